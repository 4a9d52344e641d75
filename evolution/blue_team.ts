/**
 * The blue team: patches the agent's code through the engine against its growing failure set. The
 * regression set joins the engine's evaluator (robustness as fitness: correctness over evals plus
 * regression cases first, then score, then cost), and the engine's arbiter must see a fix (or a
 * significant improvement) with zero regressions before anything leaves the team.
 *
 * Tamper checks turn a candidate away before it costs an evaluation or a shadow:
 *
 * - **special-casing**: string or numeric literals the live version does not have that reproduce a
 *   failing input (its JSON, one of its strings, a non-trivial number of it), i.e. code that compares the
 *   input with the tests instead of fixing the logic;
 * - **NaN**: `NaN`, `Infinity` or `0 / 0` the live version does not have;
 * - **touching the evaluator**: references to the global object, `Reflect`, `performance`, instrumentation
 *   names, `.prototype`/`__proto__`/`.constructor.constructor`, `Object.defineProperty`-like calls, and
 *   assignments into built-ins (`Math.random = …`), beyond what the live version does.
 *
 * And a held-out check after the engine: inputs drawn afresh near each case the candidate claims to fix
 * (mutations of it, generated inputs of its shape, with a seed the engine never saw) must not fail the
 * same way. A candidate that special-cased the stored inputs in a way the static check misses fails here.
 *
 * An optional LLM rewrite (llm_mutator.ts) is tried first when one is configured; its proposals go
 * through the same stage 0, tamper checks, lock-step evaluation, arbiter and held-out check.
 *
 * @module
 */
import { parse as babelParse } from "@babel/parser";
import { prefilter } from "../sandbox/mod.ts";
import { decide, type Decision } from "./arbiter.ts";
import { RESERVED_NAME } from "./compile.ts";
import { type EngineOptions, type EvolutionResult, runEvolution } from "./engine.ts";
import type { Evaluator, RegressionCase } from "./eval_result.ts";
import { SandboxEvaluator } from "./evaluator.ts";
import type { Node } from "./genome.ts";
import { generate, inferShape, keyOf, mutateInput, subPrng, subSeed } from "./input_shape.ts";
import { EVAL_REPEATS_FINAL } from "./limits.ts";
import type { LlmMutator } from "./llm_mutator.ts";
import { answersCase, attack } from "./red_team.ts";
import { literalEvalCases, type RegressionRecord, type RegressionStore, toCases } from "./regressions.ts";
import type { TypeDiagnostic } from "./typecheck.ts";

/** Fresh inputs tried per fixed case in the held-out check. */
export const HELD_OUT_INPUTS_PER_CASE = 24;
/** Numbers this small are too common to count as copied from a failing input. */
const TRIVIAL_NUMBER_ABS_MAX = 2;
/** Strings this short are too common to count as copied from a failing input. */
const TRIVIAL_STRING_CHARS_MAX = 2;
/** Identifiers a candidate may not add: the global object, reflection, timing, instrumentation. */
const TOUCHY_NAMES = new Set([
  "globalThis",
  "self",
  "window",
  "global",
  "Reflect",
  "performance",
  "Deno",
  "__proto__",
  "structuredClone",
]);
/** Built-ins whose members a candidate may not assign. */
const BUILTINS = new Set([
  "Math",
  "JSON",
  "Object",
  "Array",
  "Number",
  "String",
  "Boolean",
  "Promise",
  "Date",
  "console",
  "Symbol",
  "Map",
  "Set",
  "Function",
  "RegExp",
  "Error",
  "BigInt",
  "Intl",
  "performance",
  "Reflect",
  "globalThis",
]);
const DEFINERS = new Set(["defineProperty", "defineProperties", "setPrototypeOf", "assign", "freeze"]);

/** What a source contains, for comparing a candidate with the live version. */
interface Inventory {
  strings: Map<string, number>;
  numbers: Map<number, number>;
  /** Tamper marks: `name:X`, `assign:Math`, `prototype`, `definer:defineProperty`, `nan`, … */
  marks: Map<string, number>;
}

function bump<K>(m: Map<K, number>, k: K): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

function rootName(n: Node): string | null {
  let cur = n;
  for (let i = 0; i < 32 && cur; i++) {
    if (cur.type === "Identifier") return cur.name;
    if (cur.type === "MemberExpression" || cur.type === "OptionalMemberExpression") cur = cur.object;
    else return null;
  }
  return null;
}

function memberName(n: Node): string | null {
  if (n.type !== "MemberExpression" && n.type !== "OptionalMemberExpression") return null;
  if (!n.computed && n.property.type === "Identifier") return n.property.name;
  if (n.property.type === "StringLiteral") return n.property.value;
  return null;
}

function inventory(source: string): Inventory | null {
  let file: Node;
  try {
    file = babelParse(source, { sourceType: "module", plugins: ["typescript"] }) as unknown as Node;
  } catch {
    return null;
  }
  const inv: Inventory = { strings: new Map(), numbers: new Map(), marks: new Map() };
  const stack: Node[] = [file.program];
  for (let steps = 0; stack.length > 0 && steps < 200_000; steps++) {
    const n = stack.pop()!;
    inspect(n, inv);
    for (const [k, v] of Object.entries(n)) {
      if (k === "loc" || k === "extra" || k.endsWith("Comments")) continue;
      if (Array.isArray(v)) { for (const c of v) c && typeof c.type === "string" && stack.push(c); }
      else if (v && typeof v === "object" && typeof (v as Node).type === "string") stack.push(v as Node);
    }
  }
  return inv;
}

function inspect(n: Node, inv: Inventory): void {
  switch (n.type) {
    case "StringLiteral":
      return bump(inv.strings, n.value);
    case "TemplateElement":
      return bump(inv.strings, n.value.cooked ?? "");
    case "NumericLiteral":
      return bump(inv.numbers, n.value);
    case "Identifier":
      if (TOUCHY_NAMES.has(n.name)) bump(inv.marks, `name:${n.name}`);
      if (RESERVED_NAME.test(n.name)) bump(inv.marks, "instrumentation");
      if (n.name === "NaN" || n.name === "Infinity") bump(inv.marks, "nan");
      return;
    case "BinaryExpression":
      if (n.operator === "/" && n.right.type === "NumericLiteral" && n.right.value === 0) {
        bump(inv.marks, "nan");
      }
      return;
    case "AssignmentExpression": {
      const root = rootName(n.left);
      if (n.left.type === "MemberExpression" && root !== null && BUILTINS.has(root)) {
        bump(inv.marks, `assign:${root}`);
      }
      return;
    }
    case "MemberExpression":
    case "OptionalMemberExpression": {
      const name = memberName(n);
      if (name === "prototype" || name === "__proto__") bump(inv.marks, "prototype");
      if (name === "constructor" && memberName(n.object) === "constructor") {
        bump(inv.marks, "constructor-chain");
      }
      if (name !== null && DEFINERS.has(name) && rootName(n.object) === "Object") {
        bump(inv.marks, `definer:${name}`);
      }
      return;
    }
  }
}

/** A failing input's strings, numbers, and the JSON text of it and of every part of it. */
function leaves(
  value: unknown,
  out: { strings: Set<string>; numbers: Set<number>; texts: Set<string> },
  depth = 0,
): void {
  if (depth > 8) return;
  const text = JSON.stringify(value);
  if (text !== undefined && text.length >= 3 && text.length <= 4096) out.texts.add(text);
  if (typeof value === "string") out.strings.add(value);
  else if (typeof value === "number") out.numbers.add(value);
  else if (Array.isArray(value)) value.slice(0, 256).forEach((v) => leaves(v, out, depth + 1));
  else if (typeof value === "object" && value !== null) {
    for (const v of Object.values(value)) leaves(v, out, depth + 1);
  }
}

/**
 * The tamper checks of the module doc.
 *
 * @param source The candidate.
 * @param live The live version (what it already does is allowed).
 * @param failing Inputs the candidate must not special-case (the regression set's).
 * @returns Reasons to reject, empty when the candidate looks clean.
 */
export function tamperCheck(source: string, live: string, failing: readonly unknown[]): string[] {
  const mine = inventory(source);
  const theirs = inventory(live);
  if (mine === null || theirs === null) return [];
  const reasons: string[] = [];
  for (const [mark, n] of mine.marks) {
    if (n <= (theirs.marks.get(mark) ?? 0)) continue;
    reasons.push(
      mark === "nan"
        ? "returns NaN: adds NaN, Infinity or a division by zero"
        : `touches the evaluator: adds ${mark.replace(/^name:/, "a reference to ")}`,
    );
  }
  const targets = { strings: new Set<string>(), numbers: new Set<number>(), texts: new Set<string>() };
  for (const input of failing) leaves(input, targets);
  const texts = [...targets.texts];
  for (const [s, n] of mine.strings) {
    if (n <= (theirs.strings.get(s) ?? 0) || s.length <= TRIVIAL_STRING_CHARS_MAX) continue;
    if (targets.strings.has(s) || targets.texts.has(s) || texts.some((t) => t.length >= 6 && s.includes(t))) {
      reasons.push(`special-cases a failing input: adds the literal ${JSON.stringify(s).slice(0, 60)}`);
    }
  }
  for (const [x, n] of mine.numbers) {
    if (n <= (theirs.numbers.get(x) ?? 0) || Math.abs(x) <= TRIVIAL_NUMBER_ABS_MAX) continue;
    if (targets.numbers.has(x) || targets.numbers.has(-x)) {
      reasons.push(`special-cases a failing input: adds the number ${x} it holds`);
    }
  }
  return [...new Set(reasons)];
}

/**
 * The held-out check of the module doc: fresh inputs near each record the candidate fixes.
 *
 * @returns `null` when the candidate holds, else why not.
 */
export async function heldOutCheck(
  evaluator: Evaluator,
  candidate: string,
  live: string,
  fixed: readonly RegressionRecord[],
  seed: string | number,
): Promise<string | null> {
  if (fixed.length === 0) return null;
  const shape = inferShape(literalEvalCases(live).map((c) => c.input));
  const prng = subPrng(seed, "held-out");
  const inputs: unknown[] = [];
  const seen = new Set(fixed.map((r) => keyOf(r.case.input)));
  for (const r of fixed) {
    for (let i = 0; i < HELD_OUT_INPUTS_PER_CASE; i++) {
      const v = i % 2 === 0
        ? mutateInput(r.case.input, prng)
        : mutateInput(mutateInput(r.case.input, prng), prng);
      if (!seen.has(keyOf(v))) (seen.add(keyOf(v)), inputs.push(v));
    }
  }
  inputs.push(...generate(shape, HELD_OUT_INPUTS_PER_CASE, subSeed(seed, "held-out/generate")));
  const signatures = new Set(fixed.map((r) => r.signature));
  const { verdicts } = await attack(evaluator, candidate, live, inputs.map((i) => answersCase(i)));
  const bad = verdicts.find((v) => !v.pass && signatures.has(v.signature!));
  return bad === undefined
    ? null
    : `held-out input ${
      JSON.stringify(bad.input).slice(0, 120)
    } still fails (${bad.message}): the fix does not generalise`;
}

/** Options of {@link runBlueTeam}. */
export interface BlueTeamOptions {
  /** The live version's source. */
  source: string;
  /** The agent's regression set (open and fixed records). */
  records: readonly RegressionRecord[];
  /** Stage 0's type check; `null` skips it. */
  typeCheck: ((source: string) => TypeDiagnostic[]) | null;
  /** @default 1 */
  seed?: string | number;
  /** @default 4 */
  generations?: number;
  /** @default 12 */
  populationSize?: number;
  /** @default 2 */
  islands?: number;
  budgetMs?: number;
  /** Extra cases the engine also scores (feedback hypotheses not stored yet). @default [] */
  extraCases?: readonly RegressionCase[];
  /** An LLM rewrite, tried first when present. */
  llm?: LlmMutator | null;
  /** What the LLM is told about the failures. */
  llmTask?: string;
  /** Engine passthrough: persistence, resume and progress. */
  save?: EngineOptions["save"];
  resume?: EngineOptions["resume"];
  onProgress?: EngineOptions["onProgress"];
  /** Timed repetitions of the final stage. @default EVAL_REPEATS_FINAL */
  repeatsFinal?: number;
}

/** What the blue team produced. */
export interface BlueTeamResult {
  /** The source to submit as a candidate, `null` when nothing passed. */
  candidate: string | null;
  operator: "evolve" | "llm";
  engine: EvolutionResult | null;
  decision: Decision | null;
  /** Candidates turned away by the tamper checks, with why. */
  tampered: { count: number; reasons: string[] };
  /** The held-out check's outcome (`null`: not run). */
  heldOut: string | null | "passed";
  /** LLM proposals made and how they fared. */
  llm: { proposals: number; accepted: boolean; error?: string } | null;
  reason: string;
}

/**
 * Runs the blue team once (see the module doc).
 *
 * @param o The live source, the regression records, the engine's bounds.
 * @returns The candidate to submit (or why there is none), with the evidence.
 */
/** What a learning loop (auto-fix, feedback) hands over to patch an agent against what it found. */
export interface PatchContext {
  agent: string;
  host: { regressions: Pick<RegressionStore, "add" | "list"> };
  typeCheck: ((source: string) => TypeDiagnostic[]) | null;
  /** @default 1 */
  seed?: string | number;
  generations?: number;
  populationSize?: number;
  llm?: LlmMutator | null;
}

/**
 * Keeps `finds` in the agent's regression set for good, then runs the blue team against the whole set.
 *
 * @returns The blue team's result and the regression set it ran against.
 */
export async function patchWithFinds(
  o: PatchContext,
  source: string,
  finds: RegressionRecord[],
  llmTask?: string,
): Promise<{ blue: BlueTeamResult; records: RegressionRecord[] }> {
  await o.host.regressions.add(finds);
  const records = await o.host.regressions.list(o.agent);
  const blue = await runBlueTeam({
    source,
    records,
    typeCheck: o.typeCheck,
    seed: o.seed ?? 1,
    generations: o.generations,
    populationSize: o.populationSize,
    llm: o.llm,
    llmTask,
  });
  return { blue, records };
}

export async function runBlueTeam(o: BlueTeamOptions): Promise<BlueTeamResult> {
  const cases = [...toCases(o.records), ...(o.extraCases ?? [])];
  const failing = cases.map((c) => c.input);
  const evaluator = new SandboxEvaluator({ regression: cases });
  const tampered = { count: 0, reasons: [] as string[] };
  const stage0 = (s: string): TypeDiagnostic[] => {
    const reasons = tamperCheck(s, o.source, failing);
    if (reasons.length > 0) {
      tampered.count++;
      for (const r of reasons) {
        if (tampered.reasons.length < 20 && !tampered.reasons.includes(r)) tampered.reasons.push(r);
      }
      return reasons.map((message) => ({ line: 0, column: 0, code: 0, message: `tamper: ${message}` }));
    }
    return o.typeCheck?.(s) ?? [];
  };
  try {
    const viaLlm = o.llm ? await tryLlm(o, evaluator, stage0) : null;
    if (viaLlm?.candidate) return { ...viaLlm.result, tampered };
    const engine = await runEvolution({
      source: o.source,
      evaluator,
      seed: o.seed ?? 1,
      generations: o.generations ?? 4,
      populationSize: o.populationSize ?? 12,
      islands: o.islands ?? 2,
      budgetMs: o.budgetMs,
      typeCheck: stage0,
      save: o.save,
      resume: o.resume,
      onProgress: o.onProgress,
      repeatsFinal: o.repeatsFinal ?? EVAL_REPEATS_FINAL,
    });
    const base = {
      operator: "evolve" as const,
      engine,
      decision: engine.decision,
      tampered,
      llm: viaLlm?.result.llm ?? null,
    };
    if (!engine.promoted) {
      return {
        ...base,
        candidate: null,
        heldOut: null,
        reason: engine.decision?.reason ?? "no candidate ranked above the live version",
      };
    }
    const heldOut = await heldOutFor(o, evaluator, engine.source);
    return heldOut === null
      ? { ...base, candidate: engine.source, heldOut: "passed", reason: engine.decision!.reason }
      : { ...base, candidate: null, heldOut, reason: heldOut };
  } finally {
    await evaluator.close();
  }
}

/** The held-out check against the records the candidate fixes (it passes them, the live version not). */
async function heldOutFor(
  o: BlueTeamOptions,
  evaluator: Evaluator,
  candidate: string,
): Promise<string | null> {
  const open = o.records.filter((r) => r.status === "open");
  if (open.length === 0) return null;
  const { verdicts } = await attack(
    evaluator,
    candidate,
    o.source,
    open.map((r) => ({ ...r.case, critical: false })),
  );
  const fixed = open.filter((_, i) => verdicts[i].pass);
  return await heldOutCheck(evaluator, candidate, o.source, fixed, o.seed ?? 1);
}

async function tryLlm(
  o: BlueTeamOptions,
  evaluator: Evaluator,
  stage0: (s: string) => TypeDiagnostic[],
): Promise<{ candidate: string | null; result: Omit<BlueTeamResult, "tampered"> }> {
  const none = (llm: BlueTeamResult["llm"], reason: string) => ({
    candidate: null,
    result: {
      candidate: null,
      operator: "llm" as const,
      engine: null,
      decision: null,
      heldOut: null,
      llm,
      reason,
    },
  });
  let proposals: string[];
  try {
    proposals = await o.llm!.propose({ source: o.source, task: o.llmTask ?? describeFailures(o.records) });
  } catch (e) {
    return none(
      { proposals: 0, accepted: false, error: e instanceof Error ? e.message : String(e) },
      "llm failed",
    );
  }
  for (const p of proposals) {
    if (!prefilter(p).ok || stage0(p).length > 0) continue;
    const [live, cand, again] = await evaluator.evaluate([o.source, p, o.source], o.source, {
      alone: true,
      interleave: true,
      count: false,
      repeats: o.repeatsFinal ?? EVAL_REPEATS_FINAL,
    });
    const decision = decide({ live, candidate: cand, liveAgain: again });
    if (!decision.promote) continue;
    const heldOut = await heldOutFor(o, evaluator, p);
    if (heldOut !== null) continue;
    return {
      candidate: p,
      result: {
        candidate: p,
        operator: "llm",
        engine: null,
        decision,
        heldOut: "passed",
        llm: { proposals: proposals.length, accepted: true },
        reason: decision.reason,
      },
    };
  }
  return none({ proposals: proposals.length, accepted: false }, "no LLM proposal passed");
}

/** A short description of the open failures, for the LLM. */
export function describeFailures(records: readonly RegressionRecord[]): string {
  const open = records.filter((r) => r.status === "open").slice(0, 8);
  if (open.length === 0) return "Make the agent faster without changing any answer.";
  const lines = open.map((r) => `- input ${JSON.stringify(r.case.input).slice(0, 200)}: ${r.message}`);
  return `Fix the agent so that these inputs are handled correctly (the evals' score properties must hold, ` +
    `no throw, no NaN), without special-casing them:\n${lines.join("\n")}`;
}
