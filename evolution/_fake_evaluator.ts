/**
 * A deterministic in-process evaluator for tests: compiles agents with compile.ts (function form), runs
 * the live version's evals in this process (trusted test code only), counts work exactly as a jail would,
 * and derives "timings" from the work count with seeded noise, so every decision is reproducible.
 *
 * @module
 */
import * as sdk from "../agent/mod.ts";
import { deepEqual } from "../protocol/mod.ts";
import { compileAgent } from "./compile.ts";
import type { CaseResult, EvalResult, EvaluateOptions, Evaluator } from "./eval_result.ts";
import { normalizedHash } from "./genome.ts";
import { Prng } from "./prng.ts";

type Agent = {
  kind: string;
  handle: (ctx: unknown) => unknown;
  evals: { input: unknown; expect?: unknown }[];
};
const AsyncFunction = (async () => {}).constructor as new (
  p: string,
  b: string,
) => (s: unknown) => Promise<Record<string, unknown>>;

async function load(source: string): Promise<{ agent: Agent; work: (b: number) => number } | null> {
  const compiled = compileAgent(source, { count: true });
  if (compiled === null || compiled.form !== "function") return null;
  try {
    const mod = await new AsyncFunction("__oSdk", compiled.code)(sdk);
    return { agent: mod.default as Agent, work: mod.__oWork as (b: number) => number };
  } catch {
    return null;
  }
}

/** See the module doc. `calls` counts evaluate() calls, `sources` every source evaluated. */
export class FakeEvaluator implements Evaluator {
  calls = 0;
  sources = 0;

  async evaluate(sources: string[], evalsFrom: string, options: EvaluateOptions = {}): Promise<EvalResult[]> {
    this.calls++;
    this.sources += sources.length;
    const live = await load(evalsFrom);
    if (live === null) throw new Error("the live version does not load");
    const out: EvalResult[] = [];
    for (const [k, source] of sources.entries()) out.push(await this.#one(source, live.agent, options, k));
    return out;
  }

  async #one(source: string, live: Agent, options: EvaluateOptions, k: number): Promise<EvalResult> {
    const alone = options.alone ?? false;
    const loaded = await load(source);
    if (loaded === null) return { ok: false, error: "does not load", cases: [], alone };
    const prng = Prng.seeded(`${normalizedHash(source)}:${this.calls}:${k}`);
    const cases: CaseResult[] = live.evals.map((c) => {
      let pass = false;
      let work = 0;
      let out: unknown;
      try {
        loaded.work(200_000);
        out = loaded.agent.handle({
          input: structuredClone(c.input),
          arg: (n: string) => (structuredClone(c.input) as Record<string, unknown>)[n],
        });
        work = loaded.work(Infinity);
        pass = deepEqual(out, c.expect);
      } catch {
        pass = false;
      }
      const ms = Array.from(
        { length: options.repeats ?? 1 },
        () => (1 + work) * 1e-4 * Math.exp(0.1 * prng.normal()),
      );
      return {
        pass,
        score: null,
        ms,
        work,
        out: JSON.stringify(out) ?? "",
        weight: 1,
        critical: false,
        regression: false,
      };
    });
    return { ok: true, cases, alone };
  }
}
