/**
 * Typed errors of the evolution engine. Each carries a stable `code`.
 *
 * @module
 */
import { OError } from "../protocol/mod.ts";

/** Thrown when an agent source cannot be turned into a genome (`GENOME_PARSE`, `GENOME_NO_AGENT`, `GENOME_TOO_LARGE`). */
export class GenomeError extends OError {}

/** Thrown when an evolution run is asked for something out of range (`EVOLVE_OPTION_INVALID`). */
export class EvolveOptionError extends OError {}

/** Thrown when the evaluator cannot evaluate at all (`EVAL_LIVE_FAILED`: the live version does not load). */
export class EvaluatorError extends OError {}

/** Thrown when a saved engine state cannot be resumed (`ENGINE_STATE_INVALID`). */
export class EngineStateError extends OError {}
