import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { Prng } from "./prng.ts";
import { aaCalibrate, cliffsDelta, mannWhitneyU, median, midRanks, normalCdf } from "./stats.ts";

const close = (a: number, b: number, eps: number) =>
  ok(Math.abs(a - b) < eps, `${a} is not within ${eps} of ${b}`);

/** Brute force: every way to split the pooled sample, counting U directly (an independent check). */
function bruteForceP(x: number[], y: number[], alternative: "greater" | "less"): number {
  const all = [...x, ...y];
  const uOf = (a: number[], b: number[]) =>
    a.reduce((s, p) => s + b.reduce((t, q) => t + (p > q ? 1 : p === q ? 0.5 : 0), 0), 0);
  const observed = uOf(x, y);
  let hits = 0;
  let total = 0;
  const n = all.length;
  for (let mask = 0; mask < 1 << n; mask++) {
    let bits = 0;
    for (let m = mask; m; m &= m - 1) bits++;
    if (bits !== x.length) continue;
    const a = all.filter((_, i) => mask & (1 << i));
    const b = all.filter((_, i) => !(mask & (1 << i)));
    const u = uOf(a, b);
    total++;
    if (alternative === "greater" ? u >= observed - 1e-9 : u <= observed + 1e-9) hits++;
  }
  return hits / total;
}

Deno.test("mannWhitneyU() matches the textbook example exactly (U = 17, p = 1/9)", () => {
  const males = [19, 22, 16, 29, 24];
  const females = [20, 11, 17, 12];
  const exact = mannWhitneyU(males, females);
  strictEqual(exact.method, "exact");
  strictEqual(exact.u, 17);
  close(exact.p, 1 / 9, 1e-12);
  close(exact.effectSize, 0.7, 1e-12);
  const normal = mannWhitneyU(males, females, { method: "normal" });
  strictEqual(normal.u, 17);
  close(normal.p, 0.11134688653314041, 1e-6);
});

Deno.test("mannWhitneyU() gives 1/C(6,3) for complete separation", () => {
  const r = mannWhitneyU([1, 2, 3], [4, 5, 6], { alternative: "less" });
  strictEqual(r.u, 0);
  close(r.p, 0.05, 1e-12);
  close(mannWhitneyU([1, 2, 3], [4, 5, 6]).p, 0.1, 1e-12);
  close(mannWhitneyU([1, 2, 3], [4, 5, 6], { alternative: "greater" }).p, 1, 1e-12);
  strictEqual(cliffsDelta([1, 2, 3], [4, 5, 6]), -1);
});

Deno.test("mannWhitneyU() exact p-values with ties equal a brute-force permutation count", () => {
  const x = [1, 2, 2, 3, 5, 5];
  const y = [2, 3, 3, 4, 4, 6];
  for (const alternative of ["greater", "less"] as const) {
    close(mannWhitneyU(x, y, { alternative, method: "exact" }).p, bruteForceP(x, y, alternative), 1e-12);
  }
});

Deno.test("mannWhitneyU() normal approximation applies the tie correction", () => {
  const x = [1, 2, 2, 3, 5, 5];
  const y = [2, 3, 3, 4, 4, 6];
  // Hand computation: U = 0 + 2·0.5 + (1 + 1) + 2·5 = 13, mu = 18, tie groups {2,2,2}, {3,3,3}, {4,4},
  // {5,5}: sigma^2 = 36/12 · (13 − (24 + 24 + 6 + 6) / 132), z = (13 − 18 + 0.5) / sigma.
  const r = mannWhitneyU(x, y, { alternative: "less", method: "normal" });
  strictEqual(r.u, 13);
  close(r.z, (13 - 18 + 0.5) / Math.sqrt(3 * (13 - 60 / 132)), 1e-12);
  close(r.p, normalCdf(r.z), 1e-15);
});

Deno.test("mannWhitneyU() exact and normal agree closely at n = 30", () => {
  const prng = Prng.seeded(3);
  const x = Array.from({ length: 30 }, () => prng.normal() + 0.5);
  const y = Array.from({ length: 30 }, () => prng.normal());
  const exact = mannWhitneyU(x, y, { alternative: "greater", method: "exact" });
  const normal = mannWhitneyU(x, y, { alternative: "greater", method: "normal" });
  close(exact.p, normal.p, 0.005);
  close(exact.effectSize, cliffsDelta(x, y), 1e-12);
});

Deno.test("normalCdf() matches table values", () => {
  close(normalCdf(0), 0.5, 1e-7);
  close(normalCdf(1.96), 0.9750021, 1e-6);
  close(normalCdf(-1.6448536), 0.05, 1e-6);
  close(normalCdf(3), 0.9986501, 1e-6);
});

Deno.test("midRanks() averages tied ranks", () => {
  deepStrictEqual(midRanks([10, 20, 20, 30]), { ranks: [1, 2.5, 2.5, 4], ties: [1, 2, 1] });
  strictEqual(median([3, 1, 2]), 2);
  strictEqual(median([4, 1, 2, 3]), 2.5);
});

Deno.test("mannWhitneyU() refuses empty and non-finite samples", () => {
  throws(() => mannWhitneyU([], [1]), RangeError);
  throws(() => mannWhitneyU([NaN], [1]), RangeError);
});

Deno.test("aaCalibrate() finds about alpha false positives for a bare p < 0.05 rule", () => {
  const prng = Prng.seeded(11);
  const samples = Array.from({ length: 60 }, () => Math.exp(prng.normal() * 0.2));
  const bare = aaCalibrate(
    samples,
    (a, b) => mannWhitneyU(a, b, { alternative: "less" }).p < 0.05,
    Prng.seeded(1),
    400,
  );
  ok(bare.rate > 0.01 && bare.rate < 0.1, `rate ${bare.rate}`);
  const floored = aaCalibrate(
    samples,
    (a, b) => mannWhitneyU(a, b, { alternative: "less" }).p < 0.05 && -cliffsDelta(a, b) >= 0.5,
    Prng.seeded(1),
    400,
  );
  strictEqual(floored.falsePromotions, 0);
  ok(floored.effectSizeP99 < 0.5);
});
