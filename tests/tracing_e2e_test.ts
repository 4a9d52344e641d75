/**
 * Request correlation: an `X-Request-Id` sent with an invoke comes back on the answer and appears in the
 * supervisor's JSON log lines, in the lines the sandbox side logged, and on every tool call it made.
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, startServer } from "./_server.ts";

const TRACER = `import { defineAgent } from "@o/agent";
export default defineAgent({
  name: "tracer",
  version: "1.0.0",
  tools: ["calculator", "echo"],
  handle: async (ctx) => {
    ctx.log("thinking", { step: 1 });
    const sum = await ctx.tools.calculator("1 + 2");
    return await ctx.tools.echo({ sum });
  },
});`;

Deno.test("a request id appears in the answer, supervisor and sandbox log lines, and tool calls", async () => {
  const server = await startServer();
  try {
    strictEqual((await post(`${server.url}/v1/agents`, { name: "tracer", source: TRACER })).status, 201);
    const r = await post(`${server.url}/v1/agents/tracer/invoke`, { input: {} }, {
      "x-request-id": "trace-7f3a",
    });
    strictEqual(r.status, 200);
    strictEqual(r.headers.get("x-request-id"), "trace-7f3a");
    strictEqual((r.body.output as { sum: number }).sum, 3);
  } finally {
    await server.stop();
  }
  const lines = (await Deno.readTextFile(join(server.data, "logs", "o.log"))).trim().split("\n").map((l) =>
    JSON.parse(l)
  );
  const traced = lines.filter((l) => l.request_id === "trace-7f3a");
  ok(
    traced.some((l) => l.msg === "request" && l.status === 200 && l.agent === "tracer"),
    "supervisor access line",
  );
  ok(traced.some((l) => l.source === "sandbox" && l.msg === "thinking" && l.step === 1), "sandbox-side line");
  const tools = traced.filter((l) => l.source === "broker").map((l) => l.tool).sort();
  strictEqual(tools.join(","), "calculator,echo", "both tool calls carry the request id");
  for (const l of traced) ok(typeof l.time === "string" && typeof l.level === "string");
});
