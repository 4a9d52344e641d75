/**
 * The learning jobs (`feedback`, `autofix`, `dsl`, `memory`): they gather what the supervisor knows
 * (feedback records, the answer log, the log file, state snapshots) and hand it to the loops in
 * evolution/, which end in candidates on the protected path.
 *
 * @module
 */
import type { JobContext } from "./jobs.ts";

/** Runs one learning job. */
export function runLearningJob(ctx: JobContext): Promise<unknown> {
  return Promise.reject(new Error(`Cannot run job kind '${ctx.job.kind}' yet`));
}
