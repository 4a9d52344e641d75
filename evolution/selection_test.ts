import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { type Fitness, REJECTED } from "./fitness.ts";
import { Prng } from "./prng.ts";
import { type Individual, migrate, rank, survive, tournament } from "./selection.ts";

function ind(id: string, work: number, passed = 3): Individual {
  const fitness: Fitness = {
    rejected: false,
    passed,
    total: 3,
    correctness: passed / 3,
    score: passed / 3,
    latencyMs: work / 100,
    work,
  };
  return {
    id,
    source: id,
    hash: id.padStart(16, "0"),
    distance: 10,
    parents: [],
    operator: "t",
    detail: "t",
    generation: 0,
    fitness,
  };
}

Deno.test("rank() orders by correctness, then cost, then hash", () => {
  const pop = [
    ind("a", 50),
    ind("b", 10, 2),
    ind("c", 20),
    { ...ind("d", 1), fitness: REJECTED },
    ind("e", 20),
  ];
  deepStrictEqual(rank(pop, "work").map((i) => i.id), ["c", "e", "a", "b", "d"]);
});

Deno.test("tournament() is seeded and prefers the fitter", () => {
  const pop = Array.from({ length: 10 }, (_, i) => ind(`i${i}`, 100 - i));
  const wins = (seed: number) =>
    Array.from({ length: 50 }, () => tournament(pop, 3, Prng.seeded(seed), "work").id);
  deepStrictEqual(wins(4), wins(4));
  const prng = Prng.seeded(1);
  const picks = Array.from({ length: 400 }, () => tournament(pop, 3, prng, "work"));
  const meanWork = picks.reduce((s, p) => s + p.fitness.work, 0) / picks.length;
  ok(meanWork < 94.5, `mean work ${meanWork}`);
});

Deno.test("survive() keeps the elites, the size and no duplicate", () => {
  const parents = [ind("p1", 10), ind("p2", 30), ind("p3", 40)];
  const children = [ind("c1", 5), ind("c2", 50), { ...ind("c3", 60), hash: parents[0].hash }];
  const next = survive(parents, children, 3, 2, Prng.seeded(1), "work");
  strictEqual(next.length, 3);
  deepStrictEqual(next.slice(0, 2).map((i) => i.id), ["c1", "p1"]);
  strictEqual(new Set(next.map((i) => i.hash)).size, 3);
});

Deno.test("migrate() moves each island's best into the next island in a ring", () => {
  const islands = [[ind("a1", 1), ind("a2", 9)], [ind("b1", 2), ind("b2", 8)]];
  const after = migrate(islands, "work");
  deepStrictEqual(after[0].map((i) => i.id), ["a1", "b1"]);
  deepStrictEqual(after[1].map((i) => i.id), ["a1", "b1"]);
  deepStrictEqual(islands[0].map((i) => i.id), ["a1", "a2"], "the input is not changed");
});
