/**
 * A small library of function snippets the `function_replace` operator may put in place of a function
 * whose signature matches (parameter and return type annotations, compared as written). Each snippet is
 * a self-contained function: it uses only its parameters and standard built-ins, never names from the
 * module it lands in, so it type-checks wherever its signature fits.
 *
 * Some snippets are good (native and typed-array sorts, merge sort), some are merely different (insertion
 * sort, reversed sorts): the evaluation and the arbiter decide, not this list.
 *
 * @module
 */

/** One snippet: a named function whose parameters, return type and body can replace another's. */
export interface Snippet {
  /** A short stable name, recorded in the lineage (`function_replace:snippet:NAME`). */
  name: string;
  /** What it does. */
  doc: string;
  /** A single function declaration in TypeScript. */
  source: string;
}

/** The built-in snippets. */
export const SNIPPETS: readonly Snippet[] = [
  {
    name: "native_sort_numbers",
    doc: "Array.prototype.sort on a copy with a numeric comparator",
    source: `function f(xs: number[]): number[] {
  return xs.slice().sort((a, b) => a - b);
}`,
  },
  {
    name: "typed_sort_numbers",
    doc: "Float64Array sort (numeric, no comparator calls), back to a plain array",
    source: `function f(xs: number[]): number[] {
  return Array.from(Float64Array.from(xs).sort());
}`,
  },
  {
    name: "insertion_sort_numbers",
    doc: "In-place insertion sort on a copy: fast for short or nearly sorted input",
    source: `function f(xs: number[]): number[] {
  const out = xs.slice();
  for (let i = 1; i < out.length; i++) {
    const v = out[i];
    let j = i - 1;
    while (j >= 0 && out[j] > v) {
      out[j + 1] = out[j];
      j--;
    }
    out[j + 1] = v;
  }
  return out;
}`,
  },
  {
    name: "merge_sort_numbers",
    doc: "Bottom-up merge sort with one scratch buffer",
    source: `function f(xs: number[]): number[] {
  let src = xs.slice();
  let dst = new Array<number>(src.length);
  for (let width = 1; width < src.length; width *= 2) {
    for (let lo = 0; lo < src.length; lo += 2 * width) {
      const mid = Math.min(lo + width, src.length);
      const hi = Math.min(lo + 2 * width, src.length);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) dst[k++] = src[i] <= src[j] ? src[i++] : src[j++];
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}`,
  },
  {
    name: "descending_sort_numbers",
    doc: "Sorts descending (a plausible wrong answer: the evals must catch it)",
    source: `function f(xs: number[]): number[] {
  return xs.slice().sort((a, b) => b - a);
}`,
  },
  {
    name: "sum_numbers",
    doc: "Sum with a plain loop",
    source: `function f(xs: number[]): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s;
}`,
  },
  {
    name: "max_numbers",
    doc: "Largest value (-Infinity for none)",
    source: `function f(xs: number[]): number {
  let m = -Infinity;
  for (const x of xs) if (x > m) m = x;
  return m;
}`,
  },
  {
    name: "unique_numbers",
    doc: "Distinct values in first-seen order",
    source: `function f(xs: number[]): number[] {
  return [...new Set(xs)];
}`,
  },
  {
    name: "trim_lower",
    doc: "Trimmed, lower-cased text",
    source: `function f(s: string): string {
  return s.trim().toLowerCase();
}`,
  },
  {
    name: "identity_text",
    doc: "The text unchanged",
    source: `function f(s: string): string {
  return s;
}`,
  },
];
