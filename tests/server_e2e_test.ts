/**
 * End-to-end tests of the foundation: the real server (`main.ts start`) on a random port, real sandboxes,
 * real vault files. Goal: every contract answer and failure mode a newcomer would hit on day one.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { cmdline, descendants, post, startServer } from "./_server.ts";

Deno.test("server answers /health and simple-assistant says hi", async () => {
  const server = await startServer();
  try {
    const health = await (await fetch(`${server.url}/health`)).json();
    strictEqual(health.status, "ok");
    for (const name of ["counter", "simple-assistant", "sorter"]) ok(name in health.agents, `${name} runs`);
    strictEqual(health.agents["simple-assistant"].version, "1.0.0");
    const r = await post(`${server.url}/v1/agents/simple-assistant/invoke`, { input: { message: "hi" } }, {
      "x-request-id": "req-42",
    });
    strictEqual(r.status, 200);
    strictEqual(r.body.output, "hi");
    strictEqual(r.body.version, "1.0.0");
    strictEqual(typeof r.body.seq, "number");
    strictEqual(r.headers.get("x-request-id"), "req-42");
    const sorted = await post(`${server.url}/v1/agents/sorter/invoke`, { input: { items: [3, -1, 2] } });
    deepStrictEqual(sorted.body.output, [-1, 2, 3]);
  } finally {
    await server.stop();
  }
});

Deno.test("server answers each bad request with its status and keeps serving", async () => {
  const server = await startServer();
  try {
    const invoke = `${server.url}/v1/agents/counter/invoke`;
    const cases: [string, Promise<{ status: number; body: Record<string, unknown> }>, number, string][] = [
      ["malformed JSON", post(invoke, "{not json"), 400, "INVALID_JSON"],
      ["missing input", post(invoke, { nope: 1 }), 400, "INVALID_INPUT"],
      ["oversized body", post(invoke, { input: "x".repeat(2 * 1024 * 1024) }), 413, "BODY_TOO_LARGE"],
      ["unknown agent", post(`${server.url}/v1/agents/nobody/invoke`, { input: 1 }), 404, "AGENT_NOT_FOUND"],
      ["unknown route", post(`${server.url}/v2/whatever`, {}), 404, "NOT_FOUND"],
      ["wrong method", post(`${server.url}/health`, {}), 405, "METHOD_NOT_ALLOWED"],
      ["handler error", post(invoke, { input: { add: 5 } }), 422, "AGENT_ERROR"],
      [
        "bad request id",
        post(invoke, { input: {} }, { "x-request-id": "bad id with spaces" }),
        400,
        "BAD_REQUEST",
      ],
    ];
    for (const [what, pending, status, code] of cases) {
      const r = await pending;
      strictEqual(r.status, status, `${what}: status`);
      const error = r.body.error as { code: string; message: string };
      strictEqual(error.code, code, `${what}: code`);
      ok(error.message.length > 0, `${what}: message`);
    }
    const after = await post(invoke, { input: { add: "still-serving" } });
    strictEqual(after.status, 200);
    deepStrictEqual(after.body.output, { count: 1 });
  } finally {
    await server.stop();
  }
});

Deno.test("server answers 200 concurrent invokes, each exactly once in state", async () => {
  const server = await startServer();
  try {
    const n = 200;
    const answers = await Promise.all(
      Array.from(
        { length: n },
        (_, i) => post(`${server.url}/v1/agents/counter/invoke`, { input: { add: `k${i}` } }),
      ),
    );
    for (const a of answers) strictEqual(a.status, 200);
    const seqs = new Set(answers.map((a) => a.body.seq));
    strictEqual(seqs.size, n, "every write got its own seq");
    const state = await (await fetch(`${server.url}/v1/agents/counter/state`)).json();
    deepStrictEqual([...state.state.keys].sort(), Array.from({ length: n }, (_, i) => `k${i}`).sort());
    strictEqual(state.seq, Math.max(...answers.map((a) => a.body.seq as number)));
  } finally {
    await server.stop();
  }
});

Deno.test("SIGTERM drains and exits 0 within 5 s", async () => {
  const server = await startServer();
  const inflight = Array.from(
    { length: 20 },
    (_, i) => post(`${server.url}/v1/agents/counter/invoke`, { input: { add: `t${i}` } }).catch(() => null),
  );
  await new Promise((r) => setTimeout(r, 20));
  const { code, ms } = await server.stop("SIGTERM");
  strictEqual(code, 0);
  ok(ms < 5000, `exited in ${ms} ms`);
  await Promise.all(inflight);
  const left = descendants(server.process.pid);
  deepStrictEqual(left, [], "no process left behind");
});

Deno.test("a SIGKILLed agent sandbox is restarted, later requests succeed, /health counts the restart", async () => {
  const server = await startServer();
  try {
    const url = `${server.url}/v1/agents/counter/invoke`;
    strictEqual((await post(url, { input: { add: "before" } })).status, 200);
    const sandboxes = descendants(server.process.pid).filter((p) => cmdline(p).includes("sandbox_main.ts"));
    ok(sandboxes.length >= 3, `found ${sandboxes.length} sandboxes`);
    // Requests keep flowing while the kill happens.
    let stop = false;
    const flow = (async () => {
      const statuses: number[] = [];
      for (let i = 0; !stop && i < 500; i++) {
        statuses.push((await post(url, { input: { add: `flow${i}` } })).status);
      }
      return statuses;
    })();
    await new Promise((r) => setTimeout(r, 50));
    for (const pid of sandboxes) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* a bwrap parent may take its child along */ }
    }
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    const statuses = await flow;
    ok(
      statuses.every((s) => s === 200 || s === 503),
      `only 200 or 503 while restarting: ${[...new Set(statuses)]}`,
    );
    const after = await post(url, { input: { add: "after" } });
    strictEqual(after.status, 200);
    const health = await (await fetch(`${server.url}/health`)).json();
    ok(health.agents.counter.restarts >= 1, `restarts: ${health.agents.counter.restarts}`);
    strictEqual(health.agents.counter.status, "ready");
    const state = await (await fetch(`${server.url}/v1/agents/counter/state`)).json();
    ok(state.state.keys.includes("before") && state.state.keys.includes("after"));
  } finally {
    await server.stop();
  }
});

Deno.test("state survives a server restart; an Idempotency-Key retry answers the first result", async () => {
  const first = await startServer();
  const url = (s: { url: string }) => `${s.url}/v1/agents/counter/invoke`;
  let firstAnswer;
  try {
    firstAnswer = await post(url(first), { input: { add: "once" } }, { "idempotency-key": "key-1" });
    strictEqual(firstAnswer.status, 200);
    const again = await post(url(first), { input: { add: "once" } }, { "idempotency-key": "key-1" });
    deepStrictEqual(again.body, firstAnswer.body);
  } finally {
    await first.stop();
  }
  const second = await startServer({ data: first.data });
  try {
    const retry = await post(url(second), { input: { add: "once" } }, { "idempotency-key": "key-1" });
    deepStrictEqual(retry.body, firstAnswer.body, "a retry after restart answers the first result");
    const state = await (await fetch(`${second.url}/v1/agents/counter/state`)).json();
    deepStrictEqual(state.state.keys, ["once"]);
  } finally {
    await second.stop();
  }
});

Deno.test("POST /v1/agents registers an agent from source, refuses bad code, and keeps it across restarts", async () => {
  const server = await startServer();
  const source = `import { defineAgent } from "@o/agent";
export default defineAgent({ name: "doubler", version: "2.0.0", handle: (ctx) => (ctx.arg("n") as number) * 2 });`;
  try {
    const created = await post(`${server.url}/v1/agents`, { name: "doubler", source });
    strictEqual(created.status, 201);
    const r = await post(`${server.url}/v1/agents/doubler/invoke`, { input: { n: 21 } });
    deepStrictEqual([r.status, r.body.output, r.body.version], [200, 42, "2.0.0"]);
    const dup = await post(`${server.url}/v1/agents`, { name: "doubler", source });
    strictEqual(dup.status, 409);
    const broken = await post(`${server.url}/v1/agents`, { name: "broken", source: "export default 1 +;" });
    strictEqual(broken.status, 400);
    const mismatch = await post(`${server.url}/v1/agents`, { name: "other", source });
    strictEqual(mismatch.status, 400);
  } finally {
    await server.stop();
  }
  const again = await startServer({ data: server.data });
  try {
    const r = await post(`${again.url}/v1/agents/doubler/invoke`, { input: { n: 5 } });
    strictEqual(r.body.output, 10);
  } finally {
    await again.stop();
  }
});

Deno.test("an agent whose sandbox keeps crashing is marked failed and /health says degraded", async () => {
  const server = await startServer();
  // An uncaught error in a timer ends the sandbox process: a crash on every invoke.
  const source = `import { defineAgent } from "@o/agent";
export default defineAgent({ name: "crasher", version: "1.0.0",
  handle: () => { setTimeout(() => { throw new Error("boom"); }, 0); return new Promise(() => {}); } });`;
  try {
    strictEqual((await post(`${server.url}/v1/agents`, { name: "crasher", source })).status, 201);
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push((await post(`${server.url}/v1/agents/crasher/invoke`, { input: i })).status);
    }
    ok(statuses.every((s) => s === 503), `every crashed invoke answers 503: ${statuses}`);
    const health = await (await fetch(`${server.url}/health`)).json();
    strictEqual(health.status, "degraded");
    strictEqual(health.agents.crasher.status, "failed");
    strictEqual(health.agents.counter.status, "ready", "other agents are untouched (one_for_one)");
    strictEqual((await post(`${server.url}/v1/agents/counter/invoke`, { input: { add: "ok" } })).status, 200);
  } finally {
    await server.stop();
  }
});

Deno.test("agent sources are pre-filtered: Deno, eval and foreign imports are refused with line:column", async () => {
  const server = await startServer();
  try {
    const source = `import { defineAgent } from "@o/agent";
import x from "node:fs";
export default defineAgent({ name: "sneaky", version: "1.0.0", handle: () => Deno.readTextFileSync("/etc/passwd") });`;
    const r = await post(`${server.url}/v1/agents`, { name: "sneaky", source });
    strictEqual(r.status, 400);
    const error = r.body.error as { code: string; message: string };
    strictEqual(error.code, "AGENT_SOURCE_INVALID");
    ok(/2:\d+/.test(error.message) && /3:\d+/.test(error.message), error.message);
  } finally {
    await server.stop();
  }
});

Deno.test("a hung invoke answers 504 within its timeout, its sandbox is replaced, and the agent serves again", async () => {
  const server = await startServer({ args: ["--invoke-timeout-ms", "1000"] });
  const source = `import { defineAgent } from "@o/agent";
export default defineAgent({ name: "hanger", version: "1.0.0",
  handle: (ctx) => { if (ctx.arg("hang")) { for (;;) { /* a busy loop ignores everything */ } } return "ok"; } });`;
  try {
    strictEqual((await post(`${server.url}/v1/agents`, { name: "hanger", source })).status, 201);
    const started = performance.now();
    const hung = await post(`${server.url}/v1/agents/hanger/invoke`, { input: { hang: true } });
    const ms = performance.now() - started;
    strictEqual(hung.status, 504);
    strictEqual((hung.body.error as { code: string }).code, "AGENT_TIMEOUT");
    ok(ms >= 1000 && ms < 2600, `answered after ${ms} ms`);
    const after = await post(`${server.url}/v1/agents/hanger/invoke`, { input: {} });
    deepStrictEqual([after.status, after.body.output], [200, "ok"]);
  } finally {
    await server.stop();
  }
});
