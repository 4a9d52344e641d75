/**
 * The learning jobs (`feedback`, `autofix`, `dsl`, `memory`): each gathers what the supervisor knows —
 * feedback records, the answer log, the log file, state snapshots — and hands it to its loop in
 * evolution/, which ends in candidates on the protected path.
 *
 * @module
 */
import { type FeedbackRecord, type ImplicitSignal, runFeedbackLearning } from "../evolution/mod.ts";
import type { JobContext } from "./jobs.ts";
import { FEEDBACK_NAMESPACE } from "./supervisor.ts";

/** Runs one learning job. */
export async function runLearningJob(ctx: JobContext): Promise<unknown> {
  switch (ctx.job.kind) {
    case "feedback":
      return await feedbackJob(ctx);
    default:
      throw new Error(`Cannot run job kind '${ctx.job.kind}'`);
  }
}

/** The agent's recent invokes as implicit signals. */
function implicitSignals(ctx: JobContext, agent: string): ImplicitSignal[] {
  return ctx.supervisor.answers.recent(agent).map((e) => ({
    input: e.input,
    ok: e.ok,
    output: e.output,
    error: e.error,
    ms: e.ms,
    request_id: e.request_id,
  }));
}

async function feedbackJob(ctx: JobContext): Promise<unknown> {
  const job = ctx.job;
  const agent = ctx.supervisor.get(job.agent!).name;
  const rows = await ctx.vault.kvList(FEEDBACK_NAMESPACE, { prefix: `${agent}/` });
  const records = rows.map((r) => r.value as FeedbackRecord & { agent?: string }).filter((r) =>
    r.agent === agent
  );
  return await runFeedbackLearning({
    agent,
    host: ctx.host(agent),
    records,
    implicit: implicitSignals(ctx, agent),
    typeCheck: (s) => ctx.typeCheck.check(s),
    seed: job.seed,
    generations: job.generations ?? undefined,
    populationSize: job.population ?? undefined,
    llm: ctx.llm,
    jobId: job.id,
  });
}
