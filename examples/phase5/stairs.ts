/**
 * Ways to climb `n` stairs taking one or two steps at a time: input `{"n":0..40}`, answer
 * `{"n","ways"}`.
 *
 * The DSL-evolution example (docs/phase5.md): `ways` is a pure recursive helper that recomputes the
 * same sub-answers exponentially often. DSL evolution generates a `memo` combinator in the agent's own
 * source, applies it to `ways` and exposes `ways` as a `defineTool` tool; the arbiter promotes it for
 * its speed.
 */
import { defineAgent } from "@o/agent";

function ways(n: number): number {
  if (n <= 1) return 1;
  return ways(n - 1) + ways(n - 2);
}

export default defineAgent({
  name: "stairs",
  version: "1.0.0",
  doc: "Ways to climb n stairs, one or two at a time",
  handle: (ctx) => {
    const n = ctx.arg("n");
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 40) {
      throw new RangeError("n must be an integer in 0..40");
    }
    return { n, ways: ways(n) };
  },
  evals: [
    { input: { n: 0 }, expect: { n: 0, ways: 1 } },
    { input: { n: 5 }, expect: { n: 5, ways: 8 } },
    { input: { n: 18 }, expect: { n: 18, ways: 4181 } },
    { input: { n: 20 }, expect: { n: 20, ways: 10946 } },
    { input: { n: 22 }, expect: { n: 22, ways: 28657 } },
  ],
});
