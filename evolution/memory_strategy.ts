/**
 * Memory-strategy optimisation: how an agent lays out its memory blocks is code (a top-level
 * `const …STRATEGY = { … }` of literals: block size, merge policy, eviction, block bound); this module
 * profiles how the agent actually uses its blocks, generates other strategies as code variants, tests
 * them and keeps the best through the protected path.
 *
 * **Profile** (from the agent's durable state snapshot and its recent history — the answer log's inputs
 * and outputs): blocks and their sizes, how full they are against the strategy's block size, notes per
 * block (how much merging happens), blocks near the bound (how much eviction), recall hit rate (answers
 * that found something), writes and reads per invoke.
 *
 * **Variants.** Guided by the profile: tiny blocks that never merge → merging with larger blocks; full
 * blocks → larger blocks; blocks near the bound → LRU eviction and a higher bound. Each variant is the
 * agent's source with the strategy literal's values replaced (nothing else changes).
 *
 * **Test and keep.** Variants are screened together in a jail (the evals run with a real block store per
 * call, see eval_main.ts; the deterministic work count ranks them), the best that beats the live version
 * is compared in lock-step jails by the arbiter, and the survivor is submitted as a candidate (operator
 * `memory`): shadow on mirrored traffic (which starts from the live durable state, blocks included), the
 * arbiter again, promotion. The profile and the chosen strategy join the lineage record.
 *
 * @module
 */
import { parse as babelParse } from "@babel/parser";
import { prefilter } from "../sandbox/mod.ts";
import { decide, type Decision } from "./arbiter.ts";
import type { CoevolutionHost, SubmitOutcome } from "./coevolution.ts";
import { SandboxEvaluator } from "./evaluator.ts";
import { compareFitness, computeFitness, type Fitness, fitnessValue } from "./fitness.ts";
import type { Node } from "./genome.ts";
import { EVAL_REPEATS_FINAL } from "./limits.ts";
import { toCases } from "./regressions.ts";
import type { TypeDiagnostic } from "./typecheck.ts";

/** Variants generated per run. */
export const MEMORY_VARIANTS_MAX = 8;

/** A strategy: the literal values of the strategy constant. */
export type Strategy = Record<string, number | string | boolean>;

/** What the profile saw. */
export interface MemoryProfile {
  blocks: number;
  chars_total: number;
  block_chars_mean: number;
  block_chars_max: number;
  /** Mean block size over the strategy's block size (1: every block full). */
  fill: number;
  /** Items (lines) per block: 1 means nothing is merged. */
  items_per_block: number;
  /** Blocks over the strategy's block bound. */
  bound_use: number;
  tags: Record<string, number>;
  invokes: number;
  writes_per_invoke: number;
  reads_per_invoke: number;
  /** Share of reads (answers' numbers) that found something. */
  hit_rate: number | null;
}

/** A block of the snapshot (protocol MemoryBlock). */
export interface BlockLike {
  content: string;
  tags?: string[];
}

/** The strategy constant of a source: its name, values, and where the object literal is. */
export function findStrategy(
  source: string,
): { name: string; values: Strategy; start: number; end: number } | null {
  let file: Node;
  try {
    file = babelParse(source, { sourceType: "module", plugins: ["typescript"] }) as unknown as Node;
  } catch {
    return null;
  }
  for (const stmt of file.program.body as Node[]) {
    if (stmt.type !== "VariableDeclaration" || stmt.kind !== "const") continue;
    for (const d of stmt.declarations as Node[]) {
      if (d.id.type !== "Identifier" || !/strategy/i.test(d.id.name) || d.init?.type !== "ObjectExpression") {
        continue;
      }
      const values: Strategy = {};
      for (const p of d.init.properties as Node[]) {
        if (p.type !== "ObjectProperty" || p.computed) return null;
        const v = p.value;
        const key = p.key.type === "Identifier" ? p.key.name : String(p.key.value);
        if (v.type === "NumericLiteral" || v.type === "StringLiteral" || v.type === "BooleanLiteral") {
          values[key] = v.value;
        } else return null;
      }
      return { name: d.id.name, values, start: d.init.start, end: d.init.end };
    }
  }
  return null;
}

/** The source with the strategy literal replaced by `strategy`. */
export function withStrategy(source: string, strategy: Strategy): string | null {
  const found = findStrategy(source);
  if (found === null) return null;
  const body = Object.entries(strategy).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ");
  return `${source.slice(0, found.start)}{ ${body} }${source.slice(found.end)}`;
}

function numberIn(s: Strategy, re: RegExp): [string, number] | null {
  const key = Object.keys(s).find((k) => re.test(k) && typeof s[k] === "number");
  return key === undefined ? null : [key, s[key] as number];
}

/**
 * Profiles memory use.
 *
 * @param blocks The snapshot's memory blocks.
 * @param strategy The live strategy.
 * @param history Recent invokes: inputs (writes: array fields like `remember`) and outputs (reads).
 */
export function profileMemory(
  blocks: readonly BlockLike[],
  strategy: Strategy,
  history: readonly { input: unknown; output?: unknown }[],
): MemoryProfile {
  const sizes = blocks.map((b) => b.content.length);
  const total = sizes.reduce((a, b) => a + b, 0);
  const size = numberIn(strategy, /chars|size|bytes/i)?.[1] ?? 0;
  const bound = numberIn(strategy, /max|bound|limit/i)?.[1] ?? 0;
  const items = blocks.reduce((a, b) => a + b.content.split("\n").length, 0);
  const tags: Record<string, number> = {};
  for (const b of blocks) for (const t of b.tags ?? []) tags[t] = (tags[t] ?? 0) + 1;
  let writes = 0;
  let reads = 0;
  let hits = 0;
  for (const h of history) {
    const input = h.input as Record<string, unknown> | null;
    const arrays = input && typeof input === "object" ? Object.values(input).filter(Array.isArray) : [];
    writes += (arrays[0] as unknown[] | undefined)?.length ?? 0;
    const found = numbersIn(h.output);
    reads += found.length;
    hits += found.filter((x) => x > 0).length;
  }
  const mean = blocks.length > 0 ? total / blocks.length : 0;
  return {
    blocks: blocks.length,
    chars_total: total,
    block_chars_mean: Math.round(mean * 10) / 10,
    block_chars_max: sizes.length > 0 ? Math.max(...sizes) : 0,
    fill: size > 0 ? Math.round((mean / size) * 1000) / 1000 : 0,
    items_per_block: blocks.length > 0 ? Math.round((items / blocks.length) * 100) / 100 : 0,
    bound_use: bound > 0 ? Math.round((blocks.length / bound) * 1000) / 1000 : 0,
    tags,
    invokes: history.length,
    writes_per_invoke: history.length > 0 ? Math.round((writes / history.length) * 10) / 10 : 0,
    reads_per_invoke: history.length > 0 ? Math.round((reads / history.length) * 10) / 10 : 0,
    hit_rate: reads > 0 ? Math.round((hits / reads) * 1000) / 1000 : null,
  };
}

function numbersIn(v: unknown, depth = 0): number[] {
  if (typeof v === "number") return [v];
  if (depth > 3 || typeof v !== "object" || v === null) return [];
  if (Array.isArray(v)) return v.flatMap((x) => numbersIn(x, depth + 1));
  const found = (v as Record<string, unknown>).found;
  return found === undefined ? [] : numbersIn(found, depth + 1);
}

/**
 * Strategy variants the profile suggests (see the module doc), deduplicated, the live one excluded.
 *
 * @returns Strategies with why each was made.
 */
export function strategyVariants(
  live: Strategy,
  profile: MemoryProfile,
): { strategy: Strategy; why: string }[] {
  const out: { strategy: Strategy; why: string }[] = [];
  const add = (change: Strategy, why: string) => {
    const s = { ...live, ...change };
    if (
      JSON.stringify(s) === JSON.stringify(live) ||
      out.some((o) => JSON.stringify(o.strategy) === JSON.stringify(s))
    ) return;
    if (out.length < MEMORY_VARIANTS_MAX) out.push({ strategy: s, why });
  };
  const size = numberIn(live, /chars|size|bytes/i);
  const bound = numberIn(live, /max|bound|limit/i);
  const merge = Object.keys(live).find((k) => /merge/i.test(k) && typeof live[k] === "string");
  const evict = Object.keys(live).find((k) => /evict/i.test(k) && typeof live[k] === "string");
  const notMerging = profile.items_per_block <= 1.5;
  if (size !== null) {
    for (const factor of [8, 32, 128]) {
      const bigger = { [size[0]]: size[1] * factor };
      if (merge && notMerging) {
        add(
          { ...bigger, [merge]: "append" },
          `blocks hold ${profile.items_per_block} item(s): merge into ${size[1] * factor}-char blocks`,
        );
      }
      if (profile.fill >= 0.8) {
        add(bigger, `blocks are ${Math.round(100 * profile.fill)} % full: ${size[1] * factor}-char blocks`);
      }
    }
  }
  if (merge && notMerging) add({ [merge]: "append" }, "nothing is merged: merge into the current block size");
  if (evict && bound !== null && profile.bound_use >= 0.5) {
    add(
      { [evict]: "lru", [bound[0]]: bound[1] * 2 },
      `blocks use ${Math.round(100 * profile.bound_use)} % of the bound: LRU, twice the bound`,
    );
  }
  return out;
}

/** Options of {@link runMemoryStrategy}. */
export interface MemoryStrategyOptions {
  agent: string;
  host: CoevolutionHost;
  /** The live durable snapshot's memory blocks. */
  blocks: readonly BlockLike[];
  /** Recent invokes. */
  history: readonly { input: unknown; output?: unknown }[];
  typeCheck: ((source: string) => TypeDiagnostic[]) | null;
  /** @default EVAL_REPEATS_FINAL */
  repeats?: number;
}

/** What a run did. */
export interface MemoryStrategyReport {
  strategy: Strategy | null;
  profile: MemoryProfile | null;
  variants: { strategy: Strategy; why: string; fitness: number; work: number; correct: boolean }[];
  chosen: { strategy: Strategy; why: string } | null;
  decision: Decision | null;
  candidate: SubmitOutcome | null;
  reason: string;
}

/** Runs the optimisation once (see the module doc). */
export async function runMemoryStrategy(o: MemoryStrategyOptions): Promise<MemoryStrategyReport> {
  const live = await o.host.live();
  const found = findStrategy(live.source);
  const report: MemoryStrategyReport = {
    strategy: found?.values ?? null,
    profile: null,
    variants: [],
    chosen: null,
    decision: null,
    candidate: null,
    reason: "",
  };
  if (found === null) return { ...report, reason: "the agent declares no strategy constant of literals" };
  report.profile = profileMemory(o.blocks, found.values, o.history);
  const variants = strategyVariants(found.values, report.profile)
    .map((v) => ({ ...v, source: withStrategy(live.source, v.strategy)! }))
    .filter((v) => prefilter(v.source).ok && (o.typeCheck?.(v.source) ?? []).length === 0);
  if (variants.length === 0) return { ...report, reason: "the profile suggests no other strategy" };
  const evaluator = new SandboxEvaluator({ regression: toCases(await o.host.regressions.list(o.agent)) });
  try {
    const screened = await evaluator.evaluate([live.source, ...variants.map((v) => v.source)], live.source, {
      count: true,
    });
    const liveFitness = computeFitness(screened[0]);
    const ranked = variants.map((v, i) => ({ v, f: computeFitness(screened[i + 1]) }));
    report.variants = ranked.map(({ v, f }) => ({
      strategy: v.strategy,
      why: v.why,
      fitness: fitnessValue(f),
      work: f.work,
      correct: !f.rejected && f.correctness === liveFitness.correctness,
    }));
    const better = ranked.filter(({ f }) => compareFitness(f, liveFitness, "work") < 0)
      .sort((a, b) => compareFitness(a.f, b.f, "work"));
    for (const { v, f } of better.slice(0, 2)) {
      const [l, c, again] = await evaluator.evaluate([live.source, v.source, live.source], live.source, {
        alone: true,
        interleave: true,
        count: false,
        repeats: o.repeats ?? EVAL_REPEATS_FINAL,
      });
      report.decision = decide({ live: l, candidate: c, liveAgain: again });
      if (!report.decision.promote) continue;
      report.chosen = { strategy: v.strategy, why: v.why };
      report.candidate = await o.host.submit(v.source, "memory", {
        memory: {
          profile: report.profile,
          before: found.values,
          after: v.strategy,
          why: v.why,
          work: { live: liveFitness.work, variant: (f as Fitness).work },
        },
      });
      report.reason = report.candidate.reason;
      return report;
    }
  } finally {
    await evaluator.close();
  }
  return { ...report, reason: report.decision?.reason ?? "no variant beat the live strategy" };
}
