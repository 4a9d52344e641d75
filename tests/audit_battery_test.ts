/**
 * The escape battery (`deno task audit`) against the jail must find zero escapes, and every exhaustion
 * case must end within its limits; the control run (no sandbox) must trip every provable canary, which is
 * what makes "zero escapes" mean something.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { effectiveTier, runAudit } from "../sandbox/mod.ts";

const jailAvailable = effectiveTier("jail") === "jail";

Deno.test({
  name: "audit battery: zero escapes against the jail",
  ignore: !jailAvailable,
  fn: async () => {
    const report = await runAudit({ tier: "jail" });
    ok(report.cases.length >= 40, `only ${report.cases.length} cases`);
    const escaped = report.cases.filter((c) => c.escaped).map((c) => `${c.name}: ${c.reasons.join("; ")}`);
    deepStrictEqual(escaped, []);
    // An exhaustion case that ended another contained way (e.g. a wall kill instead of a memory kill on
    // a loaded machine) is reported, not failed: containment itself is what `escaped` checks.
    const unexpected = report.cases.filter((c) => !c.asExpected).map((c) => `${c.name}: ${c.outcome}`);
    if (unexpected.length > 0) {
      console.warn(`audit: ended unexpectedly (contained): ${unexpected.join("; ")}`);
    }
  },
});

Deno.test("audit control run: every provable canary trips without a sandbox", async () => {
  const report = await runAudit({ control: true });
  strictEqual(report.tier, "control");
  const { AUDIT_CASES } = await import("../sandbox/audit_cases.ts");
  const provable = new Set(AUDIT_CASES.filter((c) => c.provable !== false).map((c) => c.name));
  const silent = report.cases.filter((c) => provable.has(c.name) && !c.escaped).map((c) => c.name);
  deepStrictEqual(silent, []);
  ok(report.cases.filter((c) => c.escaped).length >= 25);
});
