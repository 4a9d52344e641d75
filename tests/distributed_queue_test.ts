/**
 * Goal: the job queue in a shared Postgres vault hands every job to exactly one holder at a time, loses no
 * job whose holder vanished, finishes each job at most once (only the current lease holder can), bounds
 * attempts, and wakes waiters by NOTIFY; PostgresEvaluator gives up loudly when no worker is attached.
 * Method: real Postgres, a fresh schema per test (dropped after); several backends with their own
 * connection pools stand in for several nodes; leases of 1 s are waited out for real.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { JobQueue } from "../vault/job_queue.ts";
import { PostgresEvaluator } from "../evolution/distributed.ts";
import { EvaluatorError } from "../evolution/mod.ts";
import { dropSchema, freshSchema } from "./distributed_workers.ts";
import { ROOT } from "./_server.ts";

async function withQueues(count: number, fn: (queues: JobQueue[]) => Promise<void>): Promise<void> {
  const { schema, url } = freshSchema("jq");
  const queues: JobQueue[] = [];
  try {
    for (let i = 0; i < count; i++) queues.push(await JobQueue.connect(url));
    await fn(queues);
  } finally {
    await Promise.all(queues.map((q) => q.close()));
    await dropSchema(schema);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("JobQueue.claim() gives each job to one of many concurrent claimers, and each completes once", async () => {
  await withQueues(4, async (queues) => {
    const total = 200;
    await queues[0].enqueue("b", "echo", Array.from({ length: total }, (_, n) => ({ n })));
    const claimedBy = new Map<number, number>();
    let accepted = 0;
    // Four "nodes", each with two claim loops on its own pool: 8 claimers race for the same rows.
    await Promise.all(queues.flatMap((q, node) =>
      [0, 1].map(async () => {
        while (true) {
          const jobs = await q.claim(`w${node}`, { max: 3, leaseS: 30, kinds: ["echo"] });
          if (jobs.length === 0) return;
          for (const job of jobs) {
            ok(!claimedBy.has(job.id), `job ${job.id} claimed twice`);
            claimedBy.set(job.id, node);
            if (await q.complete(job, { n2: (job.payload as { n: number }).n * 2 })) accepted++;
          }
        }
      })
    ));
    strictEqual(claimedBy.size, total);
    strictEqual(accepted, total);
    ok(new Set(claimedBy.values()).size > 1, "more than one node got work");
    const outcomes = await queues[1].outcomes("b");
    deepStrictEqual(outcomes.map((o) => o.result), Array.from({ length: total }, (_, n) => ({ n2: 2 * n })));
    ok(outcomes.every((o) => o.attempts === 1 && o.status === "done"));
  });
});

Deno.test("JobQueue: an expired lease is claimed again and the old holder can neither renew nor complete", async () => {
  await withQueues(2, async ([a, b]) => {
    await a.enqueue("b", "echo", [{ n: 1 }]);
    const [held] = await a.claim("dead", { leaseS: 1, kinds: ["echo"] });
    deepStrictEqual(await b.claim("other", { leaseS: 1, kinds: ["echo"] }), [], "a live lease is not taken");
    await sleep(1_200);
    const [again] = await b.claim("other", { leaseS: 30, kinds: ["echo"] });
    strictEqual(again.id, held.id);
    strictEqual(again.attempt, 2);
    strictEqual(await a.renew(held, 30), false, "the old holder cannot renew");
    strictEqual(await a.complete(held, "late"), false, "the old holder cannot complete");
    strictEqual(await b.complete(again, "on time"), true);
    strictEqual(await b.complete(again, "twice"), false, "a job completes once");
    const [o] = await a.outcomes("b");
    deepStrictEqual([o.status, o.result, o.doneBy, o.attempts], ["done", "on time", "other", 2]);
  });
});

Deno.test("JobQueue: attempts are bounded, fail() retries or ends, release() does not count", async () => {
  await withQueues(1, async ([q]) => {
    await q.enqueue("b", "echo", [{ n: 0 }, { n: 1 }, { n: 2 }], 2);
    // Job 0: two holders die in turn; after the second lease expires it is failed, not retried again.
    for (let i = 0; i < 2; i++) {
      const [job] = await q.claim(`dead${i}`, { leaseS: 1, kinds: ["echo"] });
      strictEqual(job.index, 0);
      await sleep(1_100);
    }
    // Job 1: a transient failure goes back to the queue; a permanent one ends it.
    const [j1] = await q.claim("w", { leaseS: 30, kinds: ["echo"] });
    strictEqual(j1.index, 1);
    ok(await q.fail(j1, { code: "JOB_ERROR", message: "transient" }, { retry: true }));
    const [j1b] = await q.claim("w", { leaseS: 30, kinds: ["echo"] });
    deepStrictEqual([j1b.index, j1b.attempt], [1, 2]);
    ok(await q.fail(j1b, { code: "EVAL_LIVE_FAILED", message: "no" }, { retry: false }));
    // Job 2: released by a stopping worker, then claimed with the attempt not counted.
    const [j2] = await q.claim("w", { leaseS: 30, kinds: ["echo"] });
    ok(await q.release(j2));
    const [j2b] = await q.claim("w2", { leaseS: 30, kinds: ["echo"] });
    deepStrictEqual([j2b.index, j2b.attempt], [2, 1]);
    ok(await q.complete(j2b, 2));
    deepStrictEqual(await q.claim("w", { leaseS: 30, kinds: ["echo"] }), [], "nothing left to claim");
    const outcomes = await q.outcomes("b");
    deepStrictEqual(outcomes.map((o) => [o.index, o.status, o.error?.code ?? null]), [
      [0, "failed", "JOB_ATTEMPTS_EXHAUSTED"],
      [1, "failed", "EVAL_LIVE_FAILED"],
      [2, "done", null],
    ]);
  });
});

Deno.test("JobQueue: finishing notifies the batch; cancel() drops a batch and its holder's result", async () => {
  await withQueues(2, async ([a, b]) => {
    const seen: string[] = [];
    const got = Promise.withResolvers<void>();
    const stop = await b.onFinished((batch) => (seen.push(batch), got.resolve()));
    await a.enqueue("b1", "echo", [1]);
    await a.enqueue("b2", "other", [2]);
    deepStrictEqual(await a.claim("w", { leaseS: 30, kinds: ["nope"] }), [], "only known kinds are claimed");
    const [job] = await a.claim("w", { leaseS: 30, kinds: ["echo"] });
    ok(await a.complete(job, "x"));
    await got.promise;
    deepStrictEqual(seen, ["b1"]);
    await stop();
    const [other] = await a.claim("w", { leaseS: 30, kinds: ["other"] });
    strictEqual(await b.cancel("b2"), 1);
    strictEqual(await a.complete(other, "too late"), false);
    deepStrictEqual(await a.jobs("b2"), []);
  });
});

Deno.test("PostgresEvaluator.evaluate() fails with EVAL_NO_WORKERS when no worker is attached", async () => {
  const { schema, url } = freshSchema("jq");
  const evaluator = await PostgresEvaluator.open(url, { noWorkerWaitMs: 600 });
  try {
    await rejects(
      evaluator.evaluate(["export default 1"], "export default 1"),
      (e) => e instanceof EvaluatorError && e.code === "EVAL_NO_WORKERS",
    );
    deepStrictEqual(await evaluator.evaluate([], "x"), [], "no sources, no jobs");
  } finally {
    await evaluator.close();
    await dropSchema(schema);
  }
});

Deno.test("main.ts worker: --help answers 0, a missing or non-Postgres --vault and bad numbers answer 2", async () => {
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "worker", ...args],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
    };
  };
  const help = await run("--help");
  strictEqual(help.code, 0);
  ok(help.text.includes("--lease-s"), help.text);
  strictEqual((await run()).code, 2);
  strictEqual((await run("--vault", "sqlite:")).code, 2);
  strictEqual((await run("--vault", "postgres://x@127.0.0.1/test", "--concurrency", "0")).code, 2);
  strictEqual((await run("--vault", "postgres://x@127.0.0.1/test", "--lease-s", "0.1")).code, 2);
});

Deno.test("JobQueue.prune() deletes jobs past their retention, whatever their status", async () => {
  await withQueues(1, async ([q]) => {
    await q.enqueue("old", "echo", [1, 2]);
    const [job] = await q.claim("w", { leaseS: 30, kinds: ["echo"] });
    ok(await q.complete(job, "x"));
    strictEqual(await q.prune(3_600), 0, "nothing is an hour old");
    await sleep(1_100);
    strictEqual(await q.prune(1), 2, "a done and a queued job, both past a 1 s retention");
    deepStrictEqual(await q.jobs("old"), []);
  });
});
