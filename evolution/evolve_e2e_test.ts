/**
 * End to end: `evolve --agent sorter --seed 1` in a subprocess, twice, with a small budget. Goal: a
 * significantly faster sorter is promoted with zero regressions, the summary line follows the contract,
 * and the promoted source is identical across the two runs (determinism for one seed).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { TypeChecker } from "./typecheck.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const SORTER = Deno.readTextFileSync(new URL("../examples/agents/sorter.ts", import.meta.url));
const KEYS = [
  "agent",
  "generations",
  "evals",
  "evals_per_s",
  "baseline_fitness",
  "best_fitness",
  "promoted",
  "version",
  "decision",
];

async function evolve(dir: string): Promise<{ summary: Record<string, unknown>; source: string }> {
  const out = `${dir}/best.ts`;
  const args = [
    "run",
    "-A",
    "evolution/evolve_command.ts",
    "--agent",
    "sorter",
    "--seed",
    "1",
    "--generations",
    "3",
    "--population",
    "10",
    "--json",
    "--data",
    `${dir}/data`,
    "--out",
    out,
  ];
  const r = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
    .output();
  const stdout = new TextDecoder().decode(r.stdout).trim().split("\n");
  strictEqual(r.code, 0, new TextDecoder().decode(r.stderr));
  return { summary: JSON.parse(stdout[stdout.length - 1]), source: await Deno.readTextFile(out) };
}

Deno.test("evolve --agent sorter --seed 1 promotes a faster sorter, deterministically", async () => {
  const dir = await Deno.makeTempDir({ prefix: "o-evolve-" });
  try {
    const a = await evolve(`${dir}/a`);
    const b = await evolve(`${dir}/b`);
    deepStrictEqual(Object.keys(a.summary), KEYS);
    const s = a.summary as {
      promoted: boolean;
      decision: { p_value: number; effect_size: number; regressions: number };
    };
    strictEqual(s.promoted, true);
    strictEqual(s.decision.regressions, 0);
    ok(s.decision.p_value < 0.05 && s.decision.effect_size >= 0.5);
    ok((a.summary.best_fitness as number) > (a.summary.baseline_fitness as number));
    ok((a.summary.evals as number) > 0 && (a.summary.evals_per_s as number) > 0);
    strictEqual(a.source, b.source, "the promoted source is the same for the same seed");
    strictEqual(a.summary.version, b.summary.version);
    ok(a.source !== SORTER);
    strictEqual(new TypeChecker().check(a.source).length, 0, "the promoted source type-checks");
    ok(a.source.includes('name: "sorter"') && a.source.includes('version: "1.0.0"'));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
