/**
 * Parses settings: input `{"text":"key=value;key=value"}`, answer the pairs as an object.
 *
 * The auto-fix example (docs/phase5.md): a part without "=" (a trailing ";", a bare flag, ";;") should
 * be skipped, but the guard compares `indexOf` with -2 instead of testing for -1, so such a part reaches
 * `value.trim()` with no value and the handler throws. The evals use well-formed text only.
 */
import { defineAgent } from "@o/agent";

function parse(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(";")) {
    const eq = part.indexOf("=");
    if (eq < -1) continue;
    const [key, value] = part.split("=");
    out[key.trim()] = value.trim();
  }
  return out;
}

export default defineAgent({
  name: "parser",
  version: "1.0.0",
  doc: "Parses key=value;key=value settings",
  handle: (ctx) => {
    const { text } = ctx.input as { text: string };
    return parse(text);
  },
  evals: [
    { input: { text: "a=1;b=2" }, expect: { a: "1", b: "2" } },
    { input: { text: " x = y " }, expect: { x: "y" } },
    { input: { text: "mode=fast;level=3;name=o" }, expect: { mode: "fast", level: "3", name: "o" } },
  ],
});
