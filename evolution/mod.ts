/**
 * Protected evolution: genome (TypeScript AST), operators, stage-0 type check, jailed batch evaluation,
 * fitness, selection with islands, the arbiter's statistics, and the `evolve` command.
 *
 * @example Rank two fitnesses and test two samples
 * ```ts
 * import { compareFitness, mannWhitneyU, REJECTED } from "./mod.ts";
 * import { ok } from "node:assert";
 * const good = { rejected: false, passed: 3, total: 3, correctness: 1, score: 1, latencyMs: 1, work: 10 };
 * ok(compareFitness(good, REJECTED) < 0);
 * ok(mannWhitneyU([1, 2, 3], [4, 5, 6], { alternative: "less" }).p <= 0.05);
 * ```
 *
 * @module
 */
export { type ArbiterOptions, decide, type Decision, type Evidence, repetitionTotals } from "./arbiter.ts";
export { compileAgent, type CompiledAgent, RESERVED_NAME } from "./compile.ts";
export {
  type EngineOptions,
  type EngineProgress,
  type EngineState,
  type EvolutionResult,
  type LineageRecord,
  runEvolution,
  type Stage0Reject,
  type Stage0Stats,
} from "./engine.ts";
export { EngineStateError, EvaluatorError, EvolveOptionError, GenomeError } from "./errors.ts";
export type { CaseResult, EvalResult, EvaluateOptions, Evaluator, RegressionCase } from "./eval_result.ts";
export { type EvaluatorStats, SandboxEvaluator, type SandboxEvaluatorOptions } from "./evaluator.ts";
export { evaluatorCpuClass, setEvaluatorCpuClass } from "./cpu_class.ts";
export {
  type DistributedStats,
  type EvaluationJob,
  EvaluationWorker,
  type EvaluationWorkerOptions,
  PostgresEvaluator,
  type PostgresEvaluatorOptions,
  type WorkerEvent,
  type WorkerStats,
} from "./distributed.ts";
export {
  declaredVersion,
  type EvolveArgs,
  evolveCommand,
  evolvedVersion,
  type EvolveSummary,
  parseEvolveArgs,
  runFigures,
  summarize,
} from "./evolve_command.ts";
export {
  compareFitness,
  computeFitness,
  type CostBasis,
  type Fitness,
  fitnessValue,
  REJECTED,
} from "./fitness.ts";
export { type Genome, normalizedHash, parseGenome, printGenome, type Region } from "./genome.ts";
export {
  crossover,
  functionReplace,
  logicBranch,
  mutate,
  type Offspring,
  type OperatorName,
  OPERATORS,
  paramTweak,
  pruneUnreachable,
} from "./operators.ts";
export { Prng, type PrngState } from "./prng.ts";
export { compareIndividuals, type Individual, migrate, rank, survive, tournament } from "./selection.ts";
export { type Snippet, SNIPPETS } from "./snippets.ts";
export {
  aaCalibrate,
  type AaCalibration,
  type Alternative,
  cliffsDelta,
  type MannWhitneyResult,
  mannWhitneyU,
  median,
  normalCdf,
} from "./stats.ts";
export { formatDiagnostic, TypeChecker, type TypeDiagnostic } from "./typecheck.ts";
export { benchEvolution, type EvolutionBench } from "./bench.ts";
export * from "./limits.ts";
export {
  arbitraryOf,
  crossInputs,
  edgeSeeds,
  features,
  generate,
  inferShape,
  keyOf,
  mutateInput,
  normalizeMessage,
  type Shape,
  shapeKey,
  shapeOf,
  shrinkCandidates,
  sizeOf,
} from "./input_shape.ts";
export {
  agentNameOf,
  type KvStore,
  type LiteralCase,
  literalEvalCases,
  type RegressionOrigin,
  type RegressionRecord,
  REGRESSIONS_NAMESPACE,
  RegressionStore,
  stableId,
  toCases,
} from "./regressions.ts";
export {
  answersCase,
  attack,
  classifyFailure,
  type RedTeamOptions,
  type RedTeamReport,
  runRedTeam,
  type Verdict,
} from "./red_team.ts";
export {
  type BlueTeamOptions,
  type BlueTeamResult,
  describeFailures,
  heldOutCheck,
  runBlueTeam,
  tamperCheck,
} from "./blue_team.ts";
export {
  CoevolutionAborted,
  type CoevolutionHost,
  type CoevolutionOptions,
  type CoevolutionReport,
  type CoevolutionState,
  type RoundReport,
  runCoevolution,
  type SubmitOutcome,
} from "./coevolution.ts";
export {
  dueJobs,
  JOB_KINDS,
  type JobKind,
  type JobRecord,
  JOBS_RUNNING_MAX,
  type JobSpec,
  JobSpecError,
  type JobStatus,
  nextRunMs,
  parseCron,
  parseJobSpec,
  parseSchedule,
  type Schedule,
  type Trigger,
  triggerFired,
  type TriggerReading,
} from "./scheduler.ts";
export {
  extractSource,
  type LlmConfig,
  LlmError,
  llmFromEnv,
  LlmMutator,
  type LlmTask,
} from "./llm_mutator.ts";
export {
  examplesFrom,
  type FeedbackExample,
  type FeedbackLearningOptions,
  type FeedbackRecord,
  type FeedbackReport,
  findPatterns,
  type Hypothesis,
  hypothesize,
  type ImplicitSignal,
  parseCorrection,
  type Pattern,
  runFeedbackLearning,
} from "./feedback_learning.ts";
export {
  type AutofixOptions,
  type AutofixReport,
  type ErrorPattern,
  findErrorPatterns,
  type LogLine,
  parseLogLines,
  type RootCause,
  rootCauseGuess,
  runAutofix,
} from "./autofix.ts";
export {
  type AgentUsage,
  agentUsage,
  type DslEvolutionOptions,
  type DslExport,
  dslExports,
  type DslIntrospection,
  type DslProposal,
  dslProposals,
  type DslReport,
  type Helper,
  introspectDsl,
  memoProposal,
  runDslEvolution,
} from "./dsl_evolution.ts";
export {
  type BlockLike,
  findStrategy,
  type MemoryProfile,
  type MemoryStrategyOptions,
  type MemoryStrategyReport,
  profileMemory,
  runMemoryStrategy,
  type Strategy,
  strategyVariants,
  withStrategy,
} from "./memory_strategy.ts";
