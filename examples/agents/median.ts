/**
 * The median of a list of numbers: input `{"xs":[numbers]}`, answer the median (`null` for an empty
 * list).
 *
 * It carries a planted bug for the adversarial loop (docs/phase5.md): the branch for even-length lists
 * is guarded by a test that never holds, so an even-length list answers its upper middle element instead
 * of the mean of the two middle ones. Every eval uses an odd-length list, so the evals pass; the red team
 * finds the bug through the evals' `score` property, which holds for any list.
 */
import { defineAgent } from "@o/agent";

/** The true median, for the evals' property (a reference, not the agent's own code). */
function medianScore(out: unknown, input: unknown): number {
  const xs = (input as { xs: number[] }).xs;
  if (xs.length === 0) return out === null ? 1 : 0;
  // A list with NaN or an infinity has no meaningful median: any answer goes.
  if (xs.some((x) => !Number.isFinite(x))) return 1;
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  const want = n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return typeof out === "number" && Math.abs(out - want) <= 1e-9 * Math.max(1, Math.abs(want)) ? 1 : 0;
}

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  if (s.length % 2 > 1) return (s[mid - 1] + s[mid]) / 2;
  return s[mid];
}

export default defineAgent({
  name: "median",
  version: "1.0.0",
  doc: "The median of a list of numbers",
  handle: (ctx) => median(ctx.arg("xs") as number[]),
  evals: [
    { input: { xs: [3, 1, 2] }, expect: 2 },
    { input: { xs: [5] }, expect: 5 },
    { input: { xs: [9, -4, 7, 0, 2] }, expect: 2 },
    { input: { xs: [1.5, 0.25, 8] }, expect: 1.5 },
    { input: { xs: [10, 30, 20, 50, 40, 60, 70] }, score: medianScore },
    { input: { xs: [-3, -1, -2] }, score: medianScore },
  ],
});
