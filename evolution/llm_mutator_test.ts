import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { extractSource, LlmError, llmFromEnv, LlmMutator } from "./llm_mutator.ts";

const AGENT =
  'import { defineAgent } from "@o/agent";\nexport default defineAgent({ name: "a", version: "1", handle: () => 1 });\n';

Deno.test("extractSource() takes the first fenced block that holds an agent", () => {
  strictEqual(extractSource("Here:\n```ts\n" + AGENT + "```\nDone."), AGENT);
  strictEqual(extractSource("```typescript\n" + AGENT + "```"), AGENT);
  strictEqual(extractSource(AGENT), AGENT);
  strictEqual(extractSource("```ts\nconst x = 1;\n```"), null);
});

Deno.test("LlmMutator speaks the chat-completions protocol to a fake endpoint", async () => {
  let request: { auth: string | null; path: string; body: Record<string, unknown> } | null = null;
  let status = 200;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    request = {
      auth: req.headers.get("authorization"),
      path: new URL(req.url).pathname,
      body: await req.json(),
    };
    if (status !== 200) return Response.json({ error: { message: "rate limited" } }, { status });
    return Response.json({
      id: "x",
      object: "chat.completion",
      choices: [
        {
          index: 0,
          message: { role: "assistant", content: "```ts\n" + AGENT + "```" },
          finish_reason: "stop",
        },
        { index: 1, message: { role: "assistant", content: "no code" }, finish_reason: "stop" },
      ],
    });
  });
  try {
    const llm = new LlmMutator({ url: `http://127.0.0.1:${server.addr.port}/v1/`, model: "m1", apiKey: "k" });
    deepStrictEqual(await llm.propose({ source: AGENT, task: "make it faster" }), [AGENT]);
    strictEqual(request!.path, "/v1/chat/completions");
    strictEqual(request!.auth, "Bearer k");
    strictEqual(request!.body.model, "m1");
    ok(String((request!.body.messages as { content: string }[])[1].content).includes("make it faster"));
    status = 429;
    await rejects(
      llm.propose({ source: AGENT, task: "again" }),
      (e) => e instanceof LlmError && /429/.test(e.message),
    );
    strictEqual(llm.calls, 2);
  } finally {
    await server.shutdown();
  }
  const unreachable = new LlmMutator({ url: "http://127.0.0.1:9/v1", model: "m", timeoutMs: 500 });
  await rejects(unreachable.propose({ source: AGENT, task: "x" }), LlmError);
  strictEqual(llmFromEnv({ get: () => undefined }), null);
});
