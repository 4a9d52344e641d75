/**
 * Goal (blue-team tamper checks): a candidate that special-cases the failing inputs, returns NaN, or
 * touches the evaluator is rejected — statically before it costs a jail where the source gives it away,
 * and dynamically (held-out inputs, the non-finite output check, the built-in fingerprint) where it does
 * not. A real fix passes every check.
 * Method: the median example, its shrunk red-team find, real jails (SandboxEvaluator).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { join } from "node:path";
import {
  answersCase,
  attack,
  heldOutCheck,
  type RegressionRecord,
  SandboxEvaluator,
  tamperCheck,
} from "../evolution/mod.ts";
import { ROOT } from "./_server.ts";

const LIVE = Deno.readTextFileSync(join(ROOT, "examples", "agents", "median.ts"));
const BUG = "if (s.length % 2 > 1) return (s[mid - 1] + s[mid]) / 2;";
const variant = (replacement: string) => {
  const out = LIVE.replace(BUG, replacement);
  ok(out !== LIVE);
  return out;
};
const FIX = variant("if (s.length % 2 < 1) return (s[mid - 1] + s[mid]) / 2;");
const FIND = { xs: [7, 13] };
const RECORD: RegressionRecord = {
  agent: "median",
  id: "t1",
  origin: "red-team",
  kind: "property",
  signature: "property|property N scored N below N",
  message: "property 4 scored 0 below 1",
  case: answersCase(FIND),
  status: "open",
  found_ms: 0,
};

Deno.test("tamperCheck() rejects special-cased inputs, NaN and touching the evaluator; passes a real fix", () => {
  const failing = [FIND];
  deepStrictEqual(tamperCheck(FIX, LIVE, failing), []);
  const byJson = variant('if (JSON.stringify(xs) === "[7,13]") return 10;\n  ' + BUG);
  ok(tamperCheck(byJson, LIVE, failing).some((r) => r.startsWith("special-cases a failing input")));
  const byNumbers = variant("if (s[0] === 7 && s[1] === 13) return 10;\n  " + BUG);
  ok(tamperCheck(byNumbers, LIVE, failing).some((r) => r.includes("adds the number 13")));
  const nan = variant("if (s.length % 2 < 1) return NaN;");
  ok(tamperCheck(nan, LIVE, failing).some((r) => r.startsWith("returns NaN")));
  const random = variant("Math.random = () => 0;\n  " + BUG);
  ok(tamperCheck(random, LIVE, failing).some((r) => r === "touches the evaluator: adds assign:Math"));
  const proto = variant("(Array.prototype as unknown as Record<string, unknown>).sort = () => [];\n  " + BUG);
  ok(tamperCheck(proto, LIVE, failing).some((r) => r.startsWith("touches the evaluator")));
});

Deno.test("the jail catches what the source hides: held-out inputs, NaN output, a changed built-in", async () => {
  const evaluator = new SandboxEvaluator();
  try {
    // A real fix: passes the find and the held-out inputs near it.
    strictEqual(await heldOutCheck(evaluator, FIX, LIVE, [RECORD], 1), null);
    // Special-cased with trivial-looking code (no literal from the input): passes the stored case…
    const sneaky = variant("if (s.length === 2 && s[0] * s[1] === 91) return 10;\n  " + BUG);
    deepStrictEqual(tamperCheck(sneaky, LIVE, [FIND]), []);
    const { verdicts } = await attack(evaluator, sneaky, LIVE, [RECORD.case]);
    strictEqual(verdicts[0].pass, true, "it passes the stored failing input");
    // …and fails the held-out inputs near it.
    const held = await heldOutCheck(evaluator, sneaky, LIVE, [RECORD], 1);
    ok(held !== null && held.includes("does not generalise"), String(held));
    // NaN for even lengths: the output check fails it even without the properties.
    const nan = variant("if (s.length % 2 < 1) return NaN;");
    const nanVerdict = (await attack(evaluator, nan, LIVE, [{ input: FIND, answers: true }])).verdicts[0];
    strictEqual(nanVerdict.kind, "nonfinite");
    // Touching a shared built-in at run time: the jail's fingerprint blames it and it does not run.
    const toucher = variant("(Math as { random: () => number }).random = () => 0.5;\n  " + BUG);
    const [result] = await evaluator.evaluate([toucher], LIVE, { regression: [RECORD.case] });
    strictEqual(result.ok, false);
    ok(String(result.error).includes("changed a shared built-in"), result.error);
  } finally {
    await evaluator.close();
  }
});
