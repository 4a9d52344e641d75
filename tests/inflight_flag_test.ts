/**
 * `main.ts start --inflight-max N`: the real server refuses the request past N in flight with 503
 * OVERLOADED and `Retry-After`, answers the rest, and serves again once they are done; a bad value is
 * refused at start with the flag named.
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { ROOT, startServer } from "./_server.ts";

const SLOW = `import { defineAgent } from "@o/agent";
export default defineAgent({
  name: "slow",
  version: "1.0.0",
  handle: () => {
    const until = Date.now() + 400;
    while (Date.now() < until) { /* busy: holds its request in flight */ }
    return "done";
  },
});
`;

Deno.test("--inflight-max bounds the requests in flight: the next answers 503 OVERLOADED, then serving resumes", async () => {
  const agents = await Deno.makeTempDir({ prefix: "o-inflight-" });
  await Deno.writeTextFile(join(agents, "slow.ts"), SLOW);
  const server = await startServer({ agents, args: ["--inflight-max", "2", "--log-level", "warn"] });
  try {
    const invoke = () =>
      fetch(`${server.url}/v1/agents/slow/invoke`, { method: "POST", body: '{"input":{}}' }).then(async (
        r,
      ) => ({
        status: r.status,
        retry: r.headers.get("retry-after"),
        body: await r.text(),
      }));
    const answers = await Promise.all(Array.from({ length: 6 }, invoke));
    const refused = answers.filter((a) => a.status === 503);
    const served = answers.filter((a) => a.status === 200);
    strictEqual(refused.length + served.length, 6, JSON.stringify(answers));
    ok(served.length >= 1 && served.length <= 2, `served ${served.length} of 6 with 2 allowed in flight`);
    ok(refused.every((a) => a.body.includes("OVERLOADED") && a.retry === "1"), JSON.stringify(refused));
    strictEqual((await invoke()).status, 200, "serves again once the slow ones are done");
  } finally {
    await server.stop();
    await Deno.remove(agents, { recursive: true });
  }
});

Deno.test("--inflight-max refuses a value that is not a positive integer, naming the flag", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "main.ts"), "start", "--inflight-max", "0", "--port", "0"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  ok(!out.success);
  ok(new TextDecoder().decode(out.stderr).includes("--inflight-max"));
});
