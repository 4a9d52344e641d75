/**
 * Tracing: with Deno's built-in OpenTelemetry export on, an invoke produces an `o.invoke` span and one
 * `o.tool` span per tool call, each carrying the request id, sent over OTLP (http/json) to a collector.
 * The collector here is a small OTLP/HTTP receiver on 127.0.0.1 that speaks the real protocol.
 */
import { ok } from "node:assert";
import { post, startServer } from "./_server.ts";

const TRACER = `import { defineAgent } from "@o/agent";
export default defineAgent({ name: "traced", version: "1.0.0", tools: ["calculator"],
  handle: async (ctx) => await ctx.tools.calculator("6 * 7") });`;

interface OtlpSpan {
  name: string;
  attributes?: { key: string; value: { stringValue?: string; intValue?: string } }[];
}

Deno.test("invokes and tool calls become OTel spans with the request id", async () => {
  const spans: OtlpSpan[] = [];
  const collector = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const body = await req.json().catch(() => ({}));
    for (const rs of body.resourceSpans ?? []) {
      for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []));
    }
    return Response.json({});
  });
  const server = await startServer({
    env: {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.addr.port}`,
      OTEL_SERVICE_NAME: "o-test",
      OTEL_BSP_SCHEDULE_DELAY: "100",
    },
  });
  try {
    ok((await post(`${server.url}/v1/agents`, { name: "traced", source: TRACER })).status === 201);
    const r = await post(`${server.url}/v1/agents/traced/invoke`, { input: {} }, {
      "x-request-id": "otel-req-1",
    });
    ok(r.body.output === 42);
    const attr = (s: OtlpSpan, key: string) => s.attributes?.find((a) => a.key === key)?.value.stringValue;
    const deadline = Date.now() + 10_000;
    const mine = () => spans.filter((s) => attr(s, "o.request_id") === "otel-req-1");
    while (Date.now() < deadline && mine().filter((s) => s.name.startsWith("o.")).length < 2) {
      await new Promise((res) => setTimeout(res, 100));
    }

    const names = mine().map((s) => s.name).sort();
    ok(names.includes("o.invoke"), `spans for the request: ${names}`);
    ok(names.includes("o.tool"), `spans for the request: ${names}`);
    ok(mine().some((s) => s.name === "o.tool" && attr(s, "o.tool") === "calculator"));
  } finally {
    await server.stop();
    await collector.shutdown();
  }
});
