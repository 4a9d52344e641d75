import { deepStrictEqual, strictEqual, throws } from "node:assert";
import { parseRunArgs, UsageError } from "./run_command.ts";
import { policyFor, SandboxPolicyError } from "./policy.ts";
import { RESULT_MARK } from "./run.ts";

Deno.test("parseRunArgs() reads every flag of CONTRACT.md's sandbox run", () => {
  deepStrictEqual(
    parseRunArgs(["f.ts", "--tier", "process", "--timeout-ms=750", "--memory-mb", "96", "--json"]),
    {
      file: "f.ts",
      tier: "process",
      timeoutMs: 750,
      memoryMb: 96,
      json: true,
    },
  );
  strictEqual(parseRunArgs(["--help"]), null);
});

Deno.test("parseRunArgs() refuses unknown flags, bad values and a missing FILE", () => {
  throws(() => parseRunArgs(["f.ts", "--bogus"]), UsageError);
  throws(() => parseRunArgs(["f.ts", "--tier", "vm"]), UsageError);
  throws(() => parseRunArgs(["f.ts", "--timeout-ms", "-1"]), UsageError);
  throws(() => parseRunArgs(["f.ts", "--memory-mb", "1"]), UsageError);
  throws(() => parseRunArgs([]), UsageError);
});

Deno.test("policyFor() puts untrusted code in the jail and refuses weaker tiers unless asked", () => {
  strictEqual(policyFor("generated").tier, "jail");
  strictEqual(policyFor("submitted").tier, "jail");
  strictEqual(policyFor("operator").tier, "worker");
  strictEqual(policyFor("candidate").prefilter, true);
  throws(() => policyFor("candidate", { tier: "worker" }), SandboxPolicyError);
  strictEqual(policyFor("candidate", { tier: "process", allowWeakerTier: true }).tier, "process");
  throws(() => policyFor("generated", { memoryMb: 1 }), SandboxPolicyError);
});

Deno.test("run_entry.ts writes the result line run.ts looks for", async () => {
  const entry = await Deno.readTextFile(new URL("./run_entry.ts", import.meta.url));
  strictEqual(
    entry.includes(`const RESULT_MARK = ${JSON.stringify(RESULT_MARK).replace("\\u001e", "\\u001e")}`),
    true,
  );
});
