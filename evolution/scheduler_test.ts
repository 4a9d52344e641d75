import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import {
  dueJobs,
  type JobRecord,
  JobSpecError,
  nextRunMs,
  parseCron,
  parseJobSpec,
  parseSchedule,
  triggerFired,
} from "./scheduler.ts";

const T0 = Date.UTC(2025, 0, 6, 10, 7, 30); // a Monday

function job(over: Partial<JobRecord>): JobRecord {
  return {
    kind: "evolve",
    agent: "a",
    schedule: null,
    trigger: null,
    seed: "1",
    generations: null,
    population: null,
    budget_s: null,
    runs_max: null,
    params: {},
    id: "j1",
    status: "queued",
    created_ms: 0,
    updated_ms: 0,
    started_ms: null,
    finished_ms: null,
    next_run_ms: null,
    last_run_ms: null,
    runs: 0,
    reason: null,
    progress: null,
    result: null,
    error: null,
    state: null,
    ...over,
  };
}

Deno.test("parseSchedule() reads ms, intervals and cron expressions, and refuses the rest", () => {
  deepStrictEqual(parseSchedule(60_000), { every_ms: 60_000 });
  deepStrictEqual(parseSchedule("30s"), { every_ms: 30_000 });
  deepStrictEqual(parseSchedule("every 5m"), { every_ms: 300_000 });
  deepStrictEqual(parseSchedule("@every 1h"), { every_ms: 3_600_000 });
  deepStrictEqual(parseSchedule({ cron: "*/5 * * * *" }), { cron: "*/5 * * * *" });
  deepStrictEqual(parseSchedule("0 3 * * 1-5"), { cron: "0 3 * * 1-5" });
  throws(() => parseSchedule("10ms"), JobSpecError);
  throws(() => parseSchedule("61 * * * *"), JobSpecError);
  throws(() => parseSchedule("soon"), JobSpecError);
});

Deno.test("nextRunMs() finds the next interval or cron minute (UTC), strictly later", () => {
  strictEqual(nextRunMs({ every_ms: 1000 }, T0), T0 + 1000);
  strictEqual(nextRunMs({ cron: "*/5 * * * *" }, T0), Date.UTC(2025, 0, 6, 10, 10));
  strictEqual(nextRunMs({ cron: "0 3 * * *" }, T0), Date.UTC(2025, 0, 7, 3, 0));
  strictEqual(nextRunMs({ cron: "30 9 * * 0" }, T0), Date.UTC(2025, 0, 12, 9, 30), "next Sunday");
  strictEqual(nextRunMs({ cron: "0 0 31 2 *" }, T0), null, "never");
  ok(parseCron("0 12 1 * 7").weekdays.has(0), "7 is Sunday too");
});

Deno.test("parseJobSpec() checks kind, agent, bounds and triggers", () => {
  const has = (n: string) => n === "median";
  const spec = parseJobSpec({ kind: "coevolve", agent: "median", seed: 7, params: { rounds: 3 } }, has);
  strictEqual(spec.seed, "7");
  strictEqual(spec.kind, "coevolve");
  throws(() => parseJobSpec({ kind: "evolve" }, has), /needs an 'agent'/);
  throws(() => parseJobSpec({ kind: "evolve", agent: "nope" }, has), /no agent/);
  throws(() => parseJobSpec({ kind: "evolve", agent: "median", generations: -1 }, has), /generations/);
  throws(() => parseJobSpec({ kind: "feedback", agent: "median", trigger: {} }, has), /needs/);
  strictEqual(parseJobSpec({ kind: "compact" }, has).agent, null);
});

Deno.test("triggerFired() needs enough requests, respects the cooldown, counts negative feedback", () => {
  const j = job({ trigger: { error_rate_above: 0.2, cooldown_ms: 1000 } });
  strictEqual(
    triggerFired(j, { requests: 5, errorRate: 0.9, negativeFeedback: 0 }, T0),
    null,
    "too few requests",
  );
  ok(triggerFired(j, { requests: 50, errorRate: 0.3, negativeFeedback: 0 }, T0)?.includes("error rate"));
  strictEqual(
    triggerFired({ ...j, last_run_ms: T0 - 10 }, { requests: 50, errorRate: 0.3, negativeFeedback: 0 }, T0),
    null,
  );
  const f = job({ trigger: { negative_feedback_at_least: 3 } });
  strictEqual(triggerFired(f, { requests: 0, errorRate: 0, negativeFeedback: 2 }, T0), null);
  ok(triggerFired(f, { requests: 0, errorRate: 0, negativeFeedback: 3 }, T0)?.includes("negative feedback"));
});

Deno.test("dueJobs() starts queued and due jobs oldest first, two at most, one per agent", () => {
  const jobs = [
    job({ id: "a", created_ms: 1, status: "running", agent: "x" }),
    job({ id: "b", created_ms: 2, status: "queued", agent: "x" }),
    job({ id: "c", created_ms: 3, status: "scheduled", agent: "y", next_run_ms: T0 + 1 }),
    job({ id: "d", created_ms: 4, status: "scheduled", agent: "z", next_run_ms: T0 - 1 }),
    job({ id: "e", created_ms: 5, status: "queued", agent: "w" }),
  ];
  deepStrictEqual(dueJobs(jobs, T0, () => null).map((d) => [d.job.id, d.reason]), [["d", "schedule"]]);
  deepStrictEqual(dueJobs(jobs.slice(1), T0, () => null).map((d) => d.job.id), ["b", "d"]);
});
