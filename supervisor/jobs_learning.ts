/**
 * The learning jobs (`feedback`, `autofix`, `dsl`, `memory`): each gathers what the supervisor knows —
 * feedback records, the answer log, the log file, state snapshots — and hands it to its loop in
 * evolution/, which ends in candidates on the protected path.
 *
 * @module
 */
import { join } from "node:path";
import {
  type FeedbackRecord,
  type ImplicitSignal,
  type LogLine,
  parseLogLines,
  runAutofix,
  runDslEvolution,
  runFeedbackLearning,
  runMemoryStrategy,
} from "../evolution/mod.ts";
import { engineOptions, type JobContext } from "./jobs.ts";
import { BUILTIN_TOOLS } from "../sandbox/mod.ts";
import { FEEDBACK_NAMESPACE, PROJECT_ROOT } from "./supervisor.ts";

/** Runs one learning job. */
export async function runLearningJob(ctx: JobContext): Promise<unknown> {
  switch (ctx.job.kind) {
    case "feedback":
      return await feedbackJob(ctx);
    case "autofix":
      return await autofixJob(ctx);
    case "memory":
      return await memoryJob(ctx);
    case "dsl":
      return await runDslEvolution({
        agent: ctx.supervisor.get(ctx.job.agent!).name,
        host: ctx.host(ctx.job.agent!),
        dslSource: await dslSource(),
        builtinTools: BUILTIN_TOOLS,
        typeCheck: (s) => ctx.typeCheck.check(s),
      });
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
    ...engineOptions(ctx),
  });
}

/** Log files read by auto-fix: the current one and the most recent rotations. */
const LOG_FILES_READ = 3;

/** The supervisor's log lines, oldest first (`o.log.2`, `o.log.1`, `o.log`). */
async function readLogLines(dataDir: string): Promise<LogLine[]> {
  const out: LogLine[] = [];
  for (let i = LOG_FILES_READ - 1; i >= 0; i--) {
    const path = join(dataDir, "logs", i === 0 ? "o.log" : `o.log.${i}`);
    try {
      out.push(...parseLogLines(await Deno.readTextFile(path)));
    } catch {
      // Not rotated that far yet.
    }
  }
  return out;
}

async function autofixJob(ctx: JobContext): Promise<unknown> {
  const job = ctx.job;
  const agent = ctx.supervisor.get(job.agent!).name;
  return await runAutofix({
    agent,
    host: ctx.host(agent),
    lines: await readLogLines(ctx.dataDir),
    answered: await answeredInputs(ctx, agent),
    ...engineOptions(ctx),
  });
}

/** The DSL's own source (agent/dsl.ts), which DSL evolution introspects. */
export async function dslSource(): Promise<string> {
  return await Deno.readTextFile(join(PROJECT_ROOT, "agent", "dsl.ts"));
}

async function memoryJob(ctx: JobContext): Promise<unknown> {
  const host = ctx.supervisor.get(ctx.job.agent!);
  const { snapshot } = await host.durableState();
  return await runMemoryStrategy({
    agent: host.name,
    host: ctx.host(host.name),
    blocks: Object.values(snapshot.memory ?? {}),
    history: ctx.supervisor.answers.recent(host.name, { ok: true }).map((e) => ({
      input: e.input,
      output: e.output,
    })),
    typeCheck: (s) => ctx.typeCheck.check(s),
  });
}

/** Inputs the agent answered: the answer log's, and the WAL's recent history (state-changing invokes). */
async function answeredInputs(ctx: JobContext, agent: string): Promise<unknown[]> {
  const out = ctx.supervisor.answers.recent(agent, { ok: true }).map((e) => e.input);
  try {
    const recovered = await ctx.vault.recoverAgent?.(agent);
    for (const h of recovered?.history ?? []) {
      if (h.input !== null && h.input !== undefined) out.push(h.input);
    }
  } catch {
    // No durable history to compare with: the answer log alone.
  }
  return out;
}
