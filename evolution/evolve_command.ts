/**
 * `main.ts evolve`: evolves one agent against its evals (CONTRACT.md). A progress bar goes to stderr when
 * it is a terminal; with `--json` the last stdout line is the summary object of the contract. An
 * interrupted run resumes from `DATA/evolution/<agent>-<seed>.state.json` (written after every
 * generation, removed when the run completes).
 *
 * @module
 */
import { EvaluatorError, EvolveOptionError } from "./errors.ts";
import { SandboxEvaluator } from "./evaluator.ts";
import { PostgresEvaluator } from "./distributed.ts";
import { type EngineProgress, type EngineState, type EvolutionResult, runEvolution } from "./engine.ts";
import { fitnessValue } from "./fitness.ts";
import { normalizedHash, parseGenome, propertyName } from "./genome.ts";
import {
  GENERATIONS_DEFAULT,
  GENERATIONS_MAX,
  POPULATION_SIZE_DEFAULT,
  POPULATION_SIZE_MAX,
} from "./limits.ts";
import { TypeChecker } from "./typecheck.ts";

const USAGE = `Usage: main.ts evolve --agent NAME|FILE [options]

Evolves one agent against its own evals and promotes the best candidate only if the arbiter finds a
significant improvement with zero regressions.

Options:
  --agent NAME|FILE   the agent: a name under --agents, or a .ts file (required)
  --agents DIR        where agent names are looked up (default examples/agents)
  --generations N     generations to run (default ${GENERATIONS_DEFAULT}, at most ${GENERATIONS_MAX})
  --population N      individuals per island (default ${POPULATION_SIZE_DEFAULT}, at most ${POPULATION_SIZE_MAX})
  --seed S            seed of every random choice (default 1): the same seed finds the same candidate
  --budget-s S        stop starting generations after S seconds (the final comparison still runs)
  --data DIR          where an interrupted run's state is kept for resuming (default ./data)
  --out FILE          write the best version's source (the promoted one, else the live one)
  --workers URL       evaluate on the workers of a Postgres vault (postgres://…[?schema=NAME]; start them
                      with main.ts worker) instead of in local jails
  --json              print the summary object as the last stdout line
  --help              this text`;

/** The parsed command line. */
export interface EvolveArgs {
  agent: string;
  agents: string;
  generations: number;
  population: number;
  seed: string;
  budgetS: number | null;
  data: string;
  out: string | null;
  json: boolean;
  /** A Postgres vault whose workers evaluate (`--workers`), or null for local jails. */
  workers: string | null;
}

/** The `--json` summary (CONTRACT.md). */
export interface EvolveSummary {
  agent: string;
  generations: number;
  evals: number;
  evals_per_s: number;
  baseline_fitness: number;
  best_fitness: number;
  promoted: boolean;
  version: string;
  decision: { p_value: number | null; effect_size: number | null; regressions: number };
}

const VALUE_FLAGS = new Set([
  "--agent",
  "--agents",
  "--generations",
  "--population",
  "--seed",
  "--budget-s",
  "--data",
  "--out",
  "--workers",
]);

function integer(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new EvolveOptionError(
      "EVOLVE_OPTION_INVALID",
      `Cannot evolve as '${flag}' must be an integer in [${min}, ${max}]: current value is ${text}`,
    );
  }
  return n;
}

/**
 * Parses `evolve`'s arguments.
 *
 * @param args The arguments after `evolve`.
 * @returns The options, or `"help"`.
 * @throws {EvolveOptionError} `EVOLVE_OPTION_INVALID` on an unknown flag, a missing or bad value.
 */
export function parseEvolveArgs(args: string[]): EvolveArgs | "help" {
  const values = new Map<string, string>();
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") return "help";
    if (arg === "--json") json = true;
    else if (VALUE_FLAGS.has(arg)) {
      const value = args[++i];
      if (value === undefined) {
        throw new EvolveOptionError("EVOLVE_OPTION_INVALID", `Cannot evolve as '${arg}' needs a value`);
      }
      values.set(arg, value);
    } else {throw new EvolveOptionError(
        "EVOLVE_OPTION_INVALID",
        `Cannot evolve as the option is unknown: ${arg}`,
      );}
  }
  const agent = values.get("--agent");
  if (agent === undefined) {
    throw new EvolveOptionError("EVOLVE_OPTION_INVALID", "Cannot evolve as '--agent' is required");
  }
  const budget = values.get("--budget-s");
  const budgetS = budget === undefined ? null : Number(budget);
  if (budgetS !== null && !(budgetS > 0)) {
    throw new EvolveOptionError(
      "EVOLVE_OPTION_INVALID",
      `Cannot evolve as '--budget-s' must be positive: current value is ${budget}`,
    );
  }
  return {
    agent,
    agents: values.get("--agents") ?? "examples/agents",
    generations: integer(
      "--generations",
      values.get("--generations") ?? String(GENERATIONS_DEFAULT),
      0,
      GENERATIONS_MAX,
    ),
    population: integer(
      "--population",
      values.get("--population") ?? String(POPULATION_SIZE_DEFAULT),
      2,
      POPULATION_SIZE_MAX,
    ),
    seed: values.get("--seed") ?? "1",
    budgetS,
    data: values.get("--data") ?? "data",
    out: values.get("--out") ?? null,
    json,
    workers: workersUrl(values.get("--workers")),
  };
}

function workersUrl(url: string | undefined): string | null {
  if (url === undefined) return null;
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new EvolveOptionError(
      "EVOLVE_OPTION_INVALID",
      "Cannot evolve as '--workers' must be a postgres:// URL",
    );
  }
  return url;
}

/** Reads the agent: a file path as given, else `<agents>/<name>.ts`. */
async function readAgent(args: EvolveArgs): Promise<{ name: string; source: string }> {
  const asFile = args.agent.endsWith(".ts") || args.agent.includes("/");
  const path = asFile ? args.agent : `${args.agents}/${args.agent}.ts`;
  const source = await Deno.readTextFile(path);
  return { name: asFile ? path.replace(/^.*\//, "").replace(/\.ts$/, "") : args.agent, source };
}

/**
 * The version string of evolved code: the declared version plus `+evo.` and 8 hex digits of the
 * normalised source hash, so the same code always gets the same name.
 *
 * @param declared The live version's declared `version`.
 * @param source The evolved source.
 * @returns E.g. `1.0.0+evo.1a2b3c4d`.
 */
export function evolvedVersion(declared: string, source: string): string {
  return `${declared.replace(/\+evo\.[0-9a-f]{8}$/, "")}+evo.${normalizedHash(source).slice(0, 8)}`;
}

/** The `version` literal of an agent's spec, or `"unknown"`. */
export function declaredVersion(source: string): string {
  const g = parseGenome(source);
  const body = g.ast.program.body as {
    type: string;
    declaration?: { arguments?: { properties?: unknown[] }[] };
  }[];
  for (const stmt of body) {
    const props = stmt.type === "ExportDefaultDeclaration"
      ? stmt.declaration?.arguments?.[0]?.properties
      : undefined;
    // deno-lint-ignore no-explicit-any
    const version = (props as any[] | undefined)?.find((p) => propertyName(p) === "version");
    if (version?.value?.type === "StringLiteral") return version.value.value;
  }
  return "unknown";
}

/** A run's figures, as `evolve --json` and the evolve job report them. */
export function runFigures(result: EvolutionResult) {
  return {
    generations: result.generations,
    evals: result.evals,
    evals_per_s: Math.round(result.evalsPerS * 10) / 10,
    baseline_fitness: fitnessValue(result.baselineFitness),
    best_fitness: fitnessValue(result.bestFitness),
  };
}

/**
 * Builds the contract's summary from a run's result.
 *
 * @param agent The agent's name.
 * @param liveSource The live source (for its declared version).
 * @param result The run's result.
 * @returns The summary object.
 */
export function summarize(agent: string, liveSource: string, result: EvolutionResult): EvolveSummary {
  const declared = declaredVersion(liveSource);
  return {
    agent,
    ...runFigures(result),
    promoted: result.promoted,
    version: result.promoted ? evolvedVersion(declared, result.source) : declared,
    decision: {
      p_value: result.decision?.p_value ?? null,
      effect_size: result.decision?.effect_size ?? null,
      regressions: result.decision?.regressions ?? 0,
    },
  };
}

function progressBar(p: EngineProgress): void {
  const width = 24;
  const done = Math.round((width * Math.max(0, p.generation)) / Math.max(1, p.generations));
  const bar = "#".repeat(done) + "-".repeat(width - done);
  const line = `\r[${bar}] gen ${p.generation}/${p.generations}  best ${p.bestFitness.toFixed(3)}  ${
    p.evalsPerS.toFixed(0)
  } evals/s `;
  Deno.stderr.writeSync(new TextEncoder().encode(line));
}

async function loadState(path: string): Promise<EngineState | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as EngineState;
  } catch {
    return undefined;
  }
}

/**
 * Runs `main.ts evolve` (see the module doc and `--help`).
 *
 * @param args The arguments after `evolve`.
 * @returns The exit code: 0 done (promoted or not), 1 failure, 2 usage error.
 */
export async function evolveCommand(args: string[]): Promise<number> {
  let parsed: EvolveArgs | "help";
  try {
    parsed = parseEvolveArgs(args);
  } catch (e) {
    console.error(`main.ts evolve: ${e instanceof Error ? e.message : e}\n\n${USAGE}`);
    return 2;
  }
  if (parsed === "help") {
    console.log(USAGE);
    return 0;
  }
  try {
    return await evolve(parsed);
  } catch (e) {
    const known = e instanceof EvaluatorError || e instanceof EvolveOptionError ||
      e instanceof Deno.errors.NotFound;
    console.error(
      `main.ts evolve: ${known && e instanceof Error ? e.message : e instanceof Error ? e.stack : e}`,
    );
    return 1;
  }
}

async function evolve(a: EvolveArgs): Promise<number> {
  const { name, source } = await readAgent(a);
  parseGenome(source);
  const statePath = `${a.data}/evolution/${name}-${a.seed.replace(/[^A-Za-z0-9_-]/g, "_")}.state.json`;
  const saved = await loadState(statePath);
  const resume = saved && saved.liveHash === normalizedHash(source) && saved.seed === a.seed
    ? saved
    : undefined;
  await Deno.mkdir(`${a.data}/evolution`, { recursive: true });
  const evaluator = a.workers === null ? new SandboxEvaluator() : await PostgresEvaluator.open(a.workers);
  const checker = new TypeChecker();
  const tty = Deno.stderr.isTerminal();
  let result: EvolutionResult;
  try {
    result = await runEvolution({
      source,
      evaluator,
      seed: a.seed,
      generations: a.generations,
      populationSize: a.population,
      budgetMs: a.budgetS === null ? undefined : a.budgetS * 1000,
      typeCheck: (s) => checker.check(s),
      resume,
      save: (state) => Deno.writeTextFile(statePath, JSON.stringify(state)),
      onProgress: tty ? progressBar : undefined,
    });
  } finally {
    await evaluator.close();
    checker.dispose();
  }
  if (tty) Deno.stderr.writeSync(new TextEncoder().encode("\n"));
  await Deno.remove(statePath).catch(() => {});
  if (a.out !== null) await Deno.writeTextFile(a.out, result.source);
  const summary = summarize(name, source, result);
  if (a.json) console.log(JSON.stringify(summary));
  else printHuman(summary, result);
  return 0;
}

function printHuman(s: EvolveSummary, r: EvolutionResult): void {
  console.log(
    `agent ${s.agent}: ${s.generations} generations, ${s.evals} evaluations (${s.evals_per_s} evals/s)`,
  );
  console.log(
    `stage 0: ${r.stage0.survived}/${r.stage0.children} children survived (${
      (100 * r.stage0.rate).toFixed(1)
    }%)`,
  );
  console.log(`fitness: baseline ${s.baseline_fitness}, best ${s.best_fitness}`);
  console.log(
    r.decision ? `arbiter: ${r.decision.reason}` : "arbiter: no candidate ranked above the live version",
  );
  if (r.aa) {
    console.log(
      `A/A check (live vs live): ${r.aa.promote ? "PROMOTED (noise!)" : "not promoted"}: ${r.aa.reason}`,
    );
  }
  console.log(
    s.promoted ? `promoted as version ${s.version}` : `not promoted: version ${s.version} stays live`,
  );
}

if (import.meta.main) Deno.exit(await evolveCommand(Deno.args));
