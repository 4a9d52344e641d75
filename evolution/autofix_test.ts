import { ok, strictEqual } from "node:assert";
import { findErrorPatterns, parseLogLines, rootCauseGuess } from "./autofix.ts";

const NOW = Date.parse("2025-01-06T10:00:00Z");
const line = (min: number, text: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    time: new Date(NOW - min * 60_000).toISOString(),
    level: "warn",
    msg: "invoke failed",
    agent: "parser",
    version: "1.0.0",
    code: "AGENT_ERROR",
    error: "Cannot read properties of undefined (reading 'trim')",
    input: { text },
    request_id: `r${text}`,
    ...extra,
  });

Deno.test("parseLogLines() skips torn and foreign lines", () => {
  const lines = parseLogLines(`${line(1, "a;")}\nnot json\n{"msg":"request"}\n{"torn":`);
  strictEqual(lines.length, 2);
});

Deno.test("findErrorPatterns() groups by code, message and shape; counts the spike window", () => {
  const text = [
    line(1, "a=1;"),
    line(2, "x;y=2"),
    line(3, ";;"),
    line(120, "old;"),
    line(1, "z", { code: "AGENT_TIMEOUT" }),
  ]
    .join("\n");
  const patterns = findErrorPatterns(parseLogLines(text), { now: NOW });
  strictEqual(patterns.length, 2);
  strictEqual(patterns[0].count, 4);
  strictEqual(patterns[0].window_count, 3);
  ok(patterns[0].spike);
  strictEqual(patterns[0].shape, "{text:string}");
  strictEqual(patterns[0].message, "Cannot read properties of undefined (reading '…')");
  strictEqual(patterns[1].spike, false);
  const guess = rootCauseGuess(patterns[0], [{ text: "a=1" }, { text: "a=1;b=2" }, { text: "k=v" }]);
  strictEqual(guess.feature, "text:part(;)-without(=)");
  strictEqual(guess.answered_share, 0);
  ok(guess.text.includes("trim"));
});
