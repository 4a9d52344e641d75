import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { FakeEvaluator } from "./_fake_evaluator.ts";
import { type EngineState, runEvolution } from "./engine.ts";
import { TypeChecker } from "./typecheck.ts";

const SORTER = Deno.readTextFileSync(new URL("../examples/agents/sorter.ts", import.meta.url));
const checker = new TypeChecker();
const typeCheck = (s: string) => checker.check(s);
const SMALL = { generations: 3, populationSize: 8, islands: 2 };

Deno.test("runEvolution() is deterministic for a seed and finds a cheaper sorter", async () => {
  const a = await runEvolution({
    source: SORTER,
    evaluator: new FakeEvaluator(),
    seed: 1,
    typeCheck,
    ...SMALL,
  });
  const b = await runEvolution({
    source: SORTER,
    evaluator: new FakeEvaluator(),
    seed: 1,
    typeCheck,
    ...SMALL,
  });
  deepStrictEqual(a.lineage.map((r) => r.hash), b.lineage.map((r) => r.hash));
  strictEqual(a.source, b.source);
  strictEqual(a.promoted, true);
  strictEqual(a.decision?.regressions, 0);
  ok(a.bestFitness.work < a.baselineFitness.work);
  strictEqual(a.aa?.promote, false);
  ok(a.stage0.survived <= a.stage0.children && a.stage0.rate > 0);
  strictEqual(a.generations, 3);
});

Deno.test("runEvolution() resumes from a saved state exactly where it stopped", async () => {
  const states: EngineState[] = [];
  const full = await runEvolution({
    source: SORTER,
    evaluator: new FakeEvaluator(),
    seed: "resume",
    typeCheck,
    ...SMALL,
    save: (s) => void states.push(JSON.parse(JSON.stringify(s))),
  });
  strictEqual(states.length, 4); // generation 0 and three more
  const resumed = await runEvolution({
    source: SORTER,
    evaluator: new FakeEvaluator(),
    seed: "resume",
    typeCheck,
    ...SMALL,
    resume: states[1],
  });
  deepStrictEqual(resumed.lineage.map((r) => r.id), full.lineage.map((r) => r.id));
  strictEqual(resumed.source, full.source);
  deepStrictEqual(
    resumed.state.islands.map((i) => i.map((x) => x.hash)),
    full.state.islands.map((i) => i.map((x) => x.hash)),
  );
});

Deno.test("runEvolution() refuses a state from another seed", async () => {
  const states: EngineState[] = [];
  await runEvolution({
    source: SORTER,
    evaluator: new FakeEvaluator(),
    seed: 5,
    typeCheck,
    generations: 0,
    populationSize: 4,
    save: (s) => void states.push(s),
  });
  await runEvolution({
    source: SORTER,
    evaluator: new FakeEvaluator(),
    seed: 6,
    typeCheck,
    resume: states[0],
  }).then(
    () => ok(false, "resumed another seed's state"),
    (e) => strictEqual(e.code, "ENGINE_STATE_INVALID"),
  );
});

Deno.test("runEvolution() stops starting generations when the budget is spent", async () => {
  let now = 0;
  const r = await runEvolution({
    source: SORTER,
    evaluator: new FakeEvaluator(),
    seed: 2,
    typeCheck,
    ...SMALL,
    generations: 50,
    budgetMs: 10,
    clock: () => (now += 4),
  });
  ok(r.generations < 50, `${r.generations} generations`);
});

Deno.test("runEvolution() refuses out-of-range options", async () => {
  await runEvolution({ source: SORTER, evaluator: new FakeEvaluator(), typeCheck, populationSize: 100_000 })
    .then(
      () => ok(false),
      (e) => strictEqual(e.code, "EVOLVE_OPTION_INVALID"),
    );
});
