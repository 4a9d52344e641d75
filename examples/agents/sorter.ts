import { defineAgent } from "@o/agent";

/**
 * Sorts numbers ascending. Correct but deliberately wasteful: a full bubble sort that copies the array on
 * every pass. The demo and `deno task evolve` improve it.
 */
function sortNumbers(items: number[]): number[] {
  let out = items.slice();
  for (let pass = 0; pass < out.length; pass++) {
    const next = out.slice();
    for (let i = 0; i + 1 < next.length; i++) {
      if (next[i] > next[i + 1]) {
        const t = next[i];
        next[i] = next[i + 1];
        next[i + 1] = t;
      }
    }
    out = next;
  }
  return out;
}

function series(n: number, seed: number): number[] {
  const out: number[] = [];
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    out.push((x % 2001) - 1000);
  }
  return out;
}

const big = series(200, 7);

export default defineAgent({
  name: "sorter",
  version: "1.0.0",
  doc: "Answers {items: number[]} with the numbers sorted ascending",
  handle: (ctx) => {
    const items = ctx.arg("items");
    if (!Array.isArray(items) || !items.every((x) => typeof x === "number")) {
      throw new TypeError("input needs 'items', an array of numbers");
    }
    return sortNumbers(items as number[]);
  },
  evals: [
    { input: { items: [3, 1, 2] }, expect: [1, 2, 3], critical: true },
    { input: { items: [] }, expect: [] },
    { input: { items: [5] }, expect: [5] },
    { input: { items: [2, 2, 1, 1] }, expect: [1, 1, 2, 2] },
    { input: { items: [-1, 10, -20, 0.5] }, expect: [-20, -1, 0.5, 10] },
    { input: { items: series(50, 3) }, expect: series(50, 3).sort((a, b) => a - b) },
    { input: { items: big }, expect: big.slice().sort((a, b) => a - b) },
    { input: { items: series(200, 11) }, expect: series(200, 11).sort((a, b) => a - b) },
  ],
});
