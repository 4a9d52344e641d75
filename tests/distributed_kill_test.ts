/**
 * Goal: evaluation spread over several worker processes gives the same results as a local evaluation,
 * and a worker SIGKILLed in the middle of a job loses nothing: its job is done by another worker after
 * its lease expires, every job is done exactly once, and the dead worker leaves no jail behind.
 * Method: three real `main.ts worker` processes (one jail each, 2 s leases) on a fresh schema of the test
 * Postgres; a PostgresEvaluator (keeping the job rows) evaluates seeded sorter mutants; the moment one
 * worker reports its first claim it is SIGKILLed. The same mutants are evaluated locally by a
 * SandboxEvaluator and compared result by result, timings aside. Exactly-once is checked on both sides:
 * the rows (one finish each, by a live worker) and the workers' own event streams (one accepted finish per
 * job across all of them).
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { PostgresEvaluator } from "../evolution/distributed.ts";
import { EvaluatorError, SandboxEvaluator } from "../evolution/mod.ts";
import { JobQueue } from "../vault/job_queue.ts";
import { descendants } from "./_server.ts";
import {
  alive,
  dropSchema,
  freshSchema,
  sorterMutants,
  startWorker,
  withoutTimings,
  type WorkerProcess,
} from "./distributed_workers.ts";

const WORKERS = 3;
const JAIL_POLL_MS = 2;
const LEASE_S = 2;
const MUTANTS = 36;

/**
 * Waits until the worker runs a job in a jail (its claim reported, an evaluation jail among its
 * descendants, the job not reported done), so a kill lands in the middle of the job.
 *
 * @returns The job and the jail processes seen.
 */
async function midJob(worker: WorkerProcess): Promise<{ job: number; jails: number[] }> {
  const claims = () => worker.events.filter((e) => e.t === "claimed") as { job: number }[];
  for (let k = 0;; k++) {
    await worker.waitFor(() => claims().length > k, 30_000);
    const job = claims()[k].job;
    while (!worker.events.some((e) => e.t === "done" && e.job === job)) {
      const jails = descendants(worker.pid).filter((p) => alive(p, "eval_main.ts"));
      if (jails.length > 0) return { job, jails };
      await new Promise((r) => setTimeout(r, JAIL_POLL_MS));
    }
  }
}

Deno.test("distributed evaluation: a worker SIGKILLed mid-job loses nothing, every job is done once, results equal local", async () => {
  const { schema, url } = freshSchema("dist_kill");
  const workers: WorkerProcess[] = [];
  const evaluator = await PostgresEvaluator.open(url, { keepJobs: true, sourcesPerJobMax: 3 });
  const local = new SandboxEvaluator({ parallel: 2 });
  try {
    workers.push(
      ...await Promise.all(
        Array.from(
          { length: WORKERS },
          (_, i) => startWorker(url, { concurrency: 1, leaseS: LEASE_S, id: `w${i}` }),
        ),
      ),
    );
    const { live, sources } = sorterMutants(MUTANTS, 11);
    const options = { repeats: 3 };
    const expected = await local.evaluate(sources, live, options);

    const victim = workers[0];
    const evaluation = evaluator.evaluate(sources, live, options);
    const { job: killedJob, jails } = await midJob(victim);
    victim.kill("SIGKILL");
    const results = await evaluation;
    strictEqual(await victim.exited, 137);

    deepStrictEqual(
      results.map(withoutTimings),
      expected.map(withoutTimings),
      "results equal a local evaluation",
    );
    ok(results.filter((r) => r.ok).length > MUTANTS / 2, "most mutants load and run");

    // Exactly once, from the rows.
    const queue = await JobQueue.connect(url);
    const rows = await queue.jobs(evaluator.stats().lastBatch!);
    await queue.close();
    ok(rows.length >= WORKERS * 2, `the call was split into jobs: ${rows.length}`);
    for (const row of rows) {
      strictEqual(row.status, "done", `job ${row.id} is done`);
      ok(row.doneBy !== "w0", `job ${row.id} was finished by a live worker`);
    }
    const killed = rows.find((r) => r.id === killedJob)!;
    ok(killed.attempts >= 2, `the killed job was claimed again: ${killed.attempts} attempts`);
    // Exactly once, from the workers' own reports.
    const accepted = new Map<number, number>();
    for (const w of workers) {
      for (const e of w.events) {
        if (e.t === "done" && e.accepted) accepted.set(e.job, (accepted.get(e.job) ?? 0) + 1);
      }
    }
    deepStrictEqual(
      [...accepted.keys()].sort((a, b) => a - b),
      rows.map((r) => r.id),
      "every job reported done",
    );
    ok([...accepted.values()].every((n) => n === 1), "no job reported done twice");
    ok(
      !victim.events.some((e) => e.t === "done" && e.job === killedJob),
      "the victim never finished its job",
    );
    // At least the killed job needed a second claim (a live worker starved of CPU past its lease is
    // legitimate too: its late result is refused, as the netns test shows).
    ok(evaluator.stats().retriedJobs >= 1, "a job needed a second claim");

    // The victim's jails died with it (bubblewrap's --die-with-parent).
    await new Promise((r) => setTimeout(r, 500));
    deepStrictEqual(jails.filter((p) => alive(p, "eval_main.ts")), [], "jails outliving their worker");

    // A live version that does not load fails the call at once, with its own code.
    await rejects(
      evaluator.evaluate(sources.slice(0, 2), "export default {"),
      (e) => e instanceof EvaluatorError && e.code === "EVAL_LIVE_FAILED",
    );
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    const codes = await Promise.all(workers.map((w) => w.exited));
    await evaluator.close();
    await local.close();
    await dropSchema(schema);
    deepStrictEqual(
      codes.slice(1),
      codes.slice(1).map(() => 0),
      "the surviving workers stop cleanly on SIGTERM",
    );
  }
});
