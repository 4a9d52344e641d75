/**
 * `deno task demo` end to end: it must finish with exit 0 (the wrong and no-faster candidates rejected,
 * every live request answered, no acknowledged write lost) and narrate each step.
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { ROOT } from "./_server.ts";

Deno.test("the demo runs end to end and ends in its success line", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "demo", "--generations", "2"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  strictEqual(out.code, 0, text + new TextDecoder().decode(out.stderr).slice(-2000));
  for (
    const needle of [
      "1. O starts",
      "2. The evolution engine",
      "3. Three candidates",
      "wrong     REJECTED",
      "no-faster REJECTED",
      "5. A crash",
      "0 acknowledged writes lost",
      "Demo complete",
    ]
  ) {
    ok(text.includes(needle), `demo output mentions '${needle}'`);
  }
});
