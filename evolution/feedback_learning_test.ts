import { deepStrictEqual, ok, strictEqual } from "node:assert";
import {
  examplesFrom,
  type FeedbackRecord,
  findPatterns,
  hypothesize,
  parseCorrection,
} from "./feedback_learning.ts";

const rec = (i: number, lang: string, score: number, comment?: string): FeedbackRecord => ({
  seq: 0,
  score,
  time_ms: i,
  request_id: `r${i}`,
  input: { name: `n${i}`, lang },
  output: `Hello, n${i}!`,
  ...(comment ? { comment } : {}),
});

Deno.test("parseCorrection() reads expected values from comments", () => {
  deepStrictEqual(parseCorrection('expected: "Bonjour !"'), { value: "Bonjour !" });
  deepStrictEqual(parseCorrection("should be 2.5"), { value: 2.5 });
  deepStrictEqual(parseCorrection('expect = {"a":1}'), { value: { a: 1 } });
  strictEqual(parseCorrection("this is wrong"), null);
});

Deno.test("findPatterns() finds the badly scored class; hypothesize() makes improve and keep cases", () => {
  const records = [
    rec(1, "fr", -1, 'expected: "Bonjour, n1 !"'),
    rec(2, "fr", -1),
    rec(3, "en", 1),
    rec(4, "fr", -1),
    rec(5, "en", 1),
  ];
  const examples = examplesFrom(records, [{
    input: { name: "x", lang: "de" },
    ok: false,
    ms: 1,
    error: "boom",
  }]);
  strictEqual(examples.length, 6);
  const patterns = findPatterns(examples);
  strictEqual(patterns[0].feature, "lang=fr");
  strictEqual(patterns[0].count, 3);
  const h = hypothesize(patterns[0], examples);
  strictEqual(h.improve.length, 3);
  deepStrictEqual(h.improve[0].case, {
    input: { name: "n1", lang: "fr" },
    expect: "Bonjour, n1 !",
    critical: false,
  });
  strictEqual(h.improve[1].case.has_avoid, true);
  strictEqual(h.keep.length, 2);
  ok(h.keep.every((k) => k.case.critical === true));
});

Deno.test("findPatterns() finds nothing when scores do not depend on the input", () => {
  strictEqual(findPatterns(examplesFrom([rec(1, "fr", 1), rec(2, "en", 1), rec(3, "fr", 1)])).length, 0);
});
