/**
 * Goal (scheduled tasks survive a restart): a scheduled `evolve` job killed in the middle (SIGKILL of the server
 * after a generation) resumes at the next start from `DATA/evolution/<job>.state.json` and finishes with
 * the same result as an uninterrupted run with the same seed: same generations, evaluations, best
 * individual and lineage. Its result is submitted as a candidate (operator `evolve`), never promoted
 * directly. Also: the jobs API and the evolution route's shape.
 * Method: the real server (three starts, two data directories), real jails.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { jobFinished, post, ROOT, startServer, waitJob } from "./_server.ts";

// A scheduled job: its first run is at once, then every hour; one run is enough here.
const JOB = {
  kind: "evolve",
  agent: "sorter",
  seed: "5",
  generations: 4,
  population: 8,
  schedule: "1h",
  runs_max: 1,
};

Deno.test("a scheduled evolve job killed mid-run resumes and ends as an uninterrupted run with the same seed", async () => {
  const agents = await Deno.makeTempDir({ prefix: "o-agents-" });
  Deno.copyFileSync(join(ROOT, "examples", "agents", "sorter.ts"), join(agents, "sorter.ts"));
  const args = ["--shadow-window-ms", "1000", "--log-level", "warn"];

  // First start: the job runs until a generation is saved, then the server is killed hard.
  const first = await startServer({ agents, args });
  const created = await post(`${first.url}/v1/jobs`, JOB);
  strictEqual(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id as string;
  strictEqual(created.body.status, "scheduled");
  const mid = await waitJob(
    first,
    id,
    (j) => ((j.progress as { generation?: number })?.generation ?? -1) >= 1,
    60_000,
  );
  strictEqual(mid.status, "running");
  await first.stop("SIGKILL");
  const statePath = join(first.data, "evolution", `${id}.state.json`);
  const saved = JSON.parse(Deno.readTextFileSync(statePath));
  ok(
    saved.generation >= 1 && saved.generation < JOB.generations,
    `killed mid-run at generation ${saved.generation}`,
  );

  // Second start on the same data: the job resumes from its state and finishes.
  const second = await startServer({ data: first.data, agents, args });
  let resumed;
  try {
    resumed = await waitJob(second, id, jobFinished, 90_000);
    strictEqual(resumed.status, "done", JSON.stringify(resumed.error));
    strictEqual(resumed.reason, "resumed");
    strictEqual(resumed.result.resumed, true);
    ok(!(await exists(statePath)), "the state file is removed once the run completes");
    // The evolution route: the dashboard's shape, one entry per generation, none twice.
    const evo = await (await fetch(`${second.url}/v1/agents/sorter/evolution`)).json();
    strictEqual(evo.agent, "sorter");
    strictEqual(evo.runs.length, 1);
    const run = evo.runs[0];
    deepStrictEqual(
      Object.keys(run).filter((k) => ["id", "started_ms", "status", "generations"].includes(k)).sort(),
      [
        "generations",
        "id",
        "started_ms",
        "status",
      ],
    );
    strictEqual(run.status, "done");
    deepStrictEqual(run.generations.map((g: { generation: number }) => g.generation), [0, 1, 2, 3, 4]);
    for (const g of run.generations) {
      deepStrictEqual(Object.keys(g).sort(), [
        "best_fitness",
        "evals",
        "evals_per_s",
        "generation",
        "mean_fitness",
      ]);
      ok(g.best_fitness >= g.mean_fitness && g.evals > 0);
    }
    // The result went to the protected path as a candidate named `evolve`.
    if (resumed.result.engine_promoted) {
      const c = resumed.result.candidate;
      ok(c.status === "promoted" || c.status === "rejected");
      const list = await (await fetch(`${second.url}/v1/agents/sorter/candidates`)).json();
      strictEqual(list.candidates.find((x: { id: string }) => x.id === c.id).operator, "evolve");
    }
    // The jobs API: list, validation, cancel.
    const all = await (await fetch(`${second.url}/v1/jobs`)).json();
    ok(all.jobs.some((j: { id: string }) => j.id === id));
    strictEqual((await post(`${second.url}/v1/jobs`, { kind: "nope", agent: "sorter" })).status, 400);
    strictEqual((await post(`${second.url}/v1/jobs`, { kind: "evolve", agent: "ghost" })).status, 400);
    const scheduled = await post(`${second.url}/v1/jobs`, { kind: "compact", schedule: "0 3 * * *" });
    strictEqual(scheduled.status, 201);
    strictEqual(scheduled.body.status, "scheduled");
    ok((scheduled.body.next_run_ms as number) > Date.now());
    const cancelled = await (await fetch(`${second.url}/v1/jobs/${scheduled.body.id}`, { method: "DELETE" }))
      .json();
    strictEqual(cancelled.status, "cancelled");
    strictEqual((await fetch(`${second.url}/v1/jobs/j-none`)).status, 404);
  } finally {
    await second.stop();
  }

  // A fresh server, the same job, never interrupted.
  const third = await startServer({ agents, args });
  try {
    const again = await post(`${third.url}/v1/jobs`, JOB);
    const straight = await waitJob(third, again.body.id as string, jobFinished, 90_000);
    strictEqual(straight.status, "done", JSON.stringify(straight.error));
    strictEqual(straight.result.resumed, false);
    const pick = (r: Record<string, unknown>) => ({
      generations: r.generations,
      evals: r.evals,
      best: r.best,
      lineage_digest: r.lineage_digest,
      lineage_size: r.lineage_size,
    });
    deepStrictEqual(pick(resumed.result), pick(straight.result));
    console.log(JSON.stringify(pick(straight.result)));
  } finally {
    await third.stop();
  }
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
