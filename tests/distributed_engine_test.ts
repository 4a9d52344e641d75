/**
 * Goal: the evolution engine uses every worker attached to the vault when given a PostgresEvaluator, and
 * makes the same individuals with the same screening fitness as with the local jailed evaluator.
 * Method: `runEvolution` on the sorter with one seed, twice — once with a PostgresEvaluator served by two
 * `main.ts worker` processes, once with a local SandboxEvaluator — and the lineages are compared by
 * individual, hash and fitness (ranking uses deterministic work units, so only the final stage's timings
 * may differ: its decision is not compared).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { type LineageRecord, PostgresEvaluator, runEvolution, SandboxEvaluator } from "../evolution/mod.ts";
import { ROOT } from "./_server.ts";
import {
  dropSchema,
  freshSchema,
  sorterMutants,
  startWorker,
  type WorkerProcess,
} from "./distributed_workers.ts";

const ENGINE = { seed: 7, generations: 2, populationSize: 8, islands: 2, typeCheck: null, repeatsFinal: 11 };

/** What must not depend on where the evaluations ran. */
function screening(lineage: LineageRecord[]) {
  return lineage.filter((r) => r.decision === undefined).map((r) => ({
    id: r.id,
    parents: r.parents,
    operator: r.operator,
    hash: r.hash,
    generation: r.generation,
    rejected: r.fitness.rejected,
    passed: r.fitness.passed,
    work: r.fitness.work,
  }));
}

Deno.test("runEvolution with a PostgresEvaluator spreads over the workers and screens as the local evaluator does", async () => {
  const { schema, url } = freshSchema("dist_engine");
  const { live } = sorterMutants(0, 1);
  const workers: WorkerProcess[] = [];
  const distributed = await PostgresEvaluator.open(url);
  const local = new SandboxEvaluator({ parallel: 2 });
  try {
    workers.push(...await Promise.all([0, 1].map((i) => startWorker(url, { concurrency: 1, id: `e${i}` }))));
    const remote = await runEvolution({ ...ENGINE, source: live, evaluator: distributed });
    const here = await runEvolution({ ...ENGINE, source: live, evaluator: local });
    ok(remote.evals > 20, `evaluations: ${remote.evals}`);
    strictEqual(remote.evals, here.evals);
    deepStrictEqual(screening(remote.lineage), screening(here.lineage), "the same individuals and screening");
    strictEqual(remote.best?.source ?? null, here.best?.source ?? null, "the same best candidate");
    for (const w of workers) {
      ok(w.events.some((e) => e.t === "done" && e.accepted), `worker ${w.id} evaluated jobs`);
    }
    const stats = distributed.stats();
    strictEqual(stats.failedJobs, 0);
    console.log(
      `${stats.calls} evaluate() calls, ${stats.jobs} jobs over 2 workers; promoted: ${remote.promoted} (local: ${here.promoted})`,
    );
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    await distributed.close();
    await local.close();
    await dropSchema(schema);
  }
});

Deno.test("evolve --workers URL evaluates on the vault's workers and prints the contract's summary", async () => {
  const { schema, url } = freshSchema("dist_evolve");
  const data = await Deno.makeTempDir({ prefix: "o-evolve-" });
  const workers = await Promise.all([0, 1].map((i) => startWorker(url, { concurrency: 1, id: `v${i}` })));
  try {
    const args = ["run", "-A", "main.ts", "evolve", "--agent", "sorter", "--workers", url];
    args.push("--generations", "1", "--population", "6", "--json", "--data", data);
    const out = await new Deno.Command(Deno.execPath(), { args, cwd: ROOT, stdout: "piped", stderr: "piped" })
      .output();
    strictEqual(out.code, 0, new TextDecoder().decode(out.stderr));
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    const summary = JSON.parse(lines[lines.length - 1]);
    strictEqual(summary.agent, "sorter");
    ok(summary.evals > 0, `evaluations: ${summary.evals}`);
    const done = workers.flatMap((w) => w.events.filter((e) => e.t === "done" && e.accepted));
    ok(done.length >= 2, `the workers did the evaluations: ${done.length} jobs`);
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    await Deno.remove(data, { recursive: true });
    await dropSchema(schema);
  }
});
