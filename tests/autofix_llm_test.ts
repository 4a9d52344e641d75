/**
 * Goal (the optional LLM rewrite operator): with `--llm-url` set, auto-fix asks an OpenAI-compatible
 * chat-completions endpoint for a rewrite first; the proposal is judged like any other code (stage 0,
 * tamper checks, lock-step evaluation, arbiter, held-out check, then shadow and arbiter on the candidate
 * path) and lands in the lineage with operator `llm`. The other proposal, which special-cases the stored
 * failing input, is turned away (by the held-out check).
 * Method: a fake OpenAI-compatible server on 127.0.0.1 that speaks the real protocol (POST
 * /v1/chat/completions, bearer key, `choices[].message.content` with a fenced block), the real O server.
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { jobFinished, post, ROOT, startServer, waitJob } from "./_server.ts";

const PARSER = Deno.readTextFileSync(join(ROOT, "examples", "phase5", "parser.ts"));
const FIXED = PARSER.replace("if (eq < -1) continue;", 'if (!part.includes("=")) continue;');
// Special-cases the stored (shrunk) failing input, `{"text":""}`: it passes that case, and the held-out
// check (fresh inputs near it) catches it.
const TAMPERED = PARSER.replace(
  "const out: Record<string, string> = {};",
  'const out: Record<string, string> = {};\n  if (text === "") return out;',
);

Deno.test("autofix with an LLM endpoint: the proposal goes through every check and is promoted as 'llm'", async () => {
  const seen: { auth: string | null; body: Record<string, unknown> }[] = [];
  const fake = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    if (req.method !== "POST" || url.pathname !== "/v1/chat/completions") {
      return Response.json({ error: { message: "not found", type: "invalid_request_error" } }, {
        status: 404,
      });
    }
    const body = await req.json();
    seen.push({ auth: req.headers.get("authorization"), body });
    const choice = (i: number, content: string) => ({
      index: i,
      message: { role: "assistant", content },
      finish_reason: "stop",
      logprobs: null,
    });
    return Response.json({
      id: "chatcmpl-test",
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        choice(0, "Special-case it:\n```ts\n" + TAMPERED + "```"),
        choice(
          1,
          "The guard compares with -2; test for a missing '=' instead.\n```typescript\n" + FIXED + "```\n",
        ),
      ],
      usage: { prompt_tokens: 100, completion_tokens: 200, total_tokens: 300 },
    });
  });
  Deno.env.set("O_TEST_LLM_KEY", "sk-test-123");
  const agents = await Deno.makeTempDir({ prefix: "o-agents-" });
  Deno.writeTextFileSync(join(agents, "parser.ts"), PARSER);
  const server = await startServer({
    agents,
    args: [
      "--shadow-window-ms",
      "1000",
      "--log-level",
      "warn",
      "--llm-url",
      `http://127.0.0.1:${fake.addr.port}/v1`,
      "--llm-model",
      "fake-coder",
      "--llm-key-env",
      "O_TEST_LLM_KEY",
    ],
  });
  const base = `${server.url}/v1/agents/parser`;
  try {
    for (const text of ["a=1;b=2", "a=1;", "k=v", "x=1;;y=2", "verbose", "p=q"]) {
      await post(`${base}/invoke`, { input: { text } });
    }
    const created = await post(`${server.url}/v1/jobs`, { kind: "autofix", agent: "parser", seed: "9" });
    strictEqual(created.status, 201);
    const job = await waitJob(server, created.body.id as string, jobFinished, 90_000);
    strictEqual(job.status, "done", job.error);
    strictEqual(job.result.fix.candidate.status, "promoted", job.result.reason);
    // The endpoint was asked once, with the key, the model and the failing inputs in the prompt.
    strictEqual(seen.length, 1);
    strictEqual(seen[0].auth, "Bearer sk-test-123");
    strictEqual(seen[0].body.model, "fake-coder");
    const messages = seen[0].body.messages as { role: string; content: string }[];
    strictEqual(messages[0].role, "system");
    ok(messages[1].content.includes("defineAgent") && messages[1].content.includes("trim"));
    const lineage = await (await fetch(`${base}/lineage?source=1`)).json();
    const v = lineage.versions.find((x: { version: string }) =>
      x.version === job.result.fix.candidate.version
    );
    strictEqual(v.operator, "llm");
    strictEqual(v.decision.autofix.via, "llm");
    ok(v.source.includes('!part.includes("=")'), "the LLM's fix, not the tampering proposal");
    const answer = await post(`${base}/invoke`, { input: { text: "verbose;a=1" } });
    strictEqual((answer.body.output as Record<string, string>).a, "1");
  } finally {
    await server.stop();
    await fake.shutdown();
    Deno.env.delete("O_TEST_LLM_KEY");
  }
});
