import { deepStrictEqual, ok, strictEqual } from "node:assert";
import {
  applyDelta,
  encodeFrame,
  type SandboxMessage,
  type Snapshot,
  type SupervisorMessage,
} from "../protocol/mod.ts";
import { AgentRuntime } from "./runtime.ts";

const SDK = new URL("./mod.ts", import.meta.url).href;

/** Loads source with `@o/agent` pointed at the SDK file (the sandbox does this with an import map). */
function load(source: string) {
  return import(
    "data:application/typescript," + encodeURIComponent(source.replaceAll('"@o/agent"', JSON.stringify(SDK)))
  );
}

function harness(source: string, snapshot: Snapshot = { state: {}, memory: {} }, seq = 0) {
  const out: SandboxMessage[] = [];
  // Like the real channel, sending encodes the frame (and throws for what cannot be encoded).
  const runtime = new AgentRuntime((m) => (encodeFrame(m), out.push(m)), load);
  const hello: SupervisorMessage = {
    t: "hello",
    secret: "s3",
    source,
    snapshot,
    seq,
    history: [],
    tools: ["echo"],
  };
  async function invoke(input: unknown, id: number) {
    await runtime.receive({ t: "invoke", id, input, seq, request_id: `r${id}` });
    for (let i = 0; i < 100 && !out.some((m) => m.t === "result" && m.id === id); i++) {
      await new Promise((r) => setTimeout(r, 1));
    }
    return out.find((m) => m.t === "result" && m.id === id) as Extract<SandboxMessage, { t: "result" }>;
  }
  return { out, runtime, hello, invoke };
}

const COUNTER = await Deno.readTextFile(new URL("../examples/agents/counter.ts", import.meta.url));

Deno.test("AgentRuntime loads an agent, runs init, and reports the init delta in ready", async () => {
  const h = harness(COUNTER);
  await h.runtime.receive(h.hello);
  const ready = h.out[0];
  strictEqual(ready.t, "ready");
  if (ready.t !== "ready") return;
  strictEqual(ready.k, "s3");
  deepStrictEqual(ready.agent, {
    name: "counter",
    version: "1.0.0",
    doc: ready.agent.doc,
    tools: [],
    evals: 2,
  });
  const snap = { state: {}, memory: {} };
  applyDelta(snap, ready.delta);
  deepStrictEqual(snap.state, { keys: [] });
});

Deno.test("AgentRuntime turns state mutations into a delta that reproduces the state", async () => {
  const h = harness(COUNTER, { state: { keys: ["x"] }, memory: {} }, 5);
  await h.runtime.receive(h.hello);
  const r = await h.invoke({ add: "y" }, 1);
  deepStrictEqual(r.output, { count: 2 });
  deepStrictEqual(r.delta, [["p", ["state", "keys"], ["y"]]]);
});

Deno.test("AgentRuntime rolls state back when the handler throws", async () => {
  const h = harness(COUNTER, { state: { keys: [] }, memory: {} }, 1);
  await h.runtime.receive(h.hello);
  const bad = await h.invoke({ add: 42 }, 1);
  strictEqual(bad.error?.code, "AGENT_ERROR");
  deepStrictEqual(bad.delta, []);
  const list = await h.invoke({ list: true }, 2);
  deepStrictEqual(list.output, { keys: [] });
});

Deno.test("AgentRuntime sends tool calls to the broker and resolves them from tool_result", async () => {
  const src = await Deno.readTextFile(new URL("../examples/agents/simple-assistant.ts", import.meta.url));
  const h = harness(src);
  await h.runtime.receive(h.hello);
  const pending = h.runtime.receive({
    t: "invoke",
    id: 1,
    input: { message: "hi" },
    seq: 0,
    request_id: "r1",
  });
  await pending;
  for (let i = 0; i < 50 && !h.out.some((m) => m.t === "tool"); i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  const call = h.out.find((m) => m.t === "tool") as Extract<SandboxMessage, { t: "tool" }>;
  ok(call, "a tool frame was sent");
  deepStrictEqual([call.name, call.args], ["echo", ["hi"]]);
  await h.runtime.receive({ t: "tool_result", call: call.call, ok: true, value: "hi" });
  for (let i = 0; i < 50 && !h.out.some((m) => m.t === "result"); i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  const result = h.out.find((m) => m.t === "result") as Extract<SandboxMessage, { t: "result" }>;
  strictEqual(result.output, "hi");
});

Deno.test("AgentRuntime answers LOAD_FAILED for a module without a defineAgent default export", async () => {
  const h = harness("export default 42;");
  await h.runtime.receive(h.hello);
  strictEqual(h.out[0].t, "error");
  if (h.out[0].t === "error") strictEqual(h.out[0].code, "LOAD_FAILED");
});

Deno.test("AgentRuntime refuses an output that cannot be encoded and keeps state", async () => {
  const src = `import { defineAgent } from "@o/agent";
export default defineAgent({ name: "bad-out", version: "1", init: () => ({ n: 0 }),
  handle: (ctx) => { ctx.state.n = 1; return { f: () => 1 }; } });`;
  const h = harness(src);
  await h.runtime.receive(h.hello);
  const r = await h.invoke({}, 1);
  strictEqual(r.error?.code, "OUTPUT_INVALID");
  deepStrictEqual(r.delta, []);
});

Deno.test("ctx.memory blocks split, merge and are found by tag, as a delta", async () => {
  const src = `import { defineAgent } from "@o/agent";
export default defineAgent({ name: "mem", version: "1",
  handle: (ctx) => {
    const id = ctx.memory.put("hello world", { tags: ["greeting"] });
    const [a, b] = ctx.memory.split(id, 5);
    const merged = ctx.memory.merge([a, b], "|");
    return { blocks: ctx.memory.byTag("greeting").map((x) => x.content), merged: merged === a };
  } });`;
  const h = harness(src);
  await h.runtime.receive(h.hello);
  const r = await h.invoke({}, 1);
  deepStrictEqual(r.output, { blocks: ["hello| world"], merged: true });
  const snap = { state: {}, memory: {} };
  applyDelta(snap, r.delta);
  strictEqual(Object.values(snap.memory).length, 1);
});

Deno.test("deltas replayed on the initial state always equal the runtime's state, failed invokes included", async () => {
  const fc = (await import("fast-check")).default;
  const src = `import { defineAgent } from "@o/agent";
export default defineAgent({ name: "ops", version: "1", init: () => ({ list: [], map: {} }),
  handle: (ctx) => {
    const s = ctx.state as { list: unknown[]; map: Record<string, unknown> };
    for (const [op, k, v] of ctx.arg("ops") as [string, string, unknown][]) {
      if (op === "push") s.list.push(v);
      else if (op === "set") s.map[k] = v;
      else if (op === "del") delete s.map[k];
      else if (op === "nest") s.map[k] = { inner: [v] };
      else if (op === "pop") s.list.pop();
    }
    if (ctx.arg("fail")) throw new Error("after mutating");
    return structuredClone(s);
  } });`;
  const op = fc.tuple(
    fc.constantFrom("push", "set", "del", "nest", "pop"),
    fc.constantFrom("a", "b", "c"),
    fc.integer(),
  );
  const call = fc.record({ ops: fc.array(op, { maxLength: 5 }), fail: fc.boolean() });
  await fc.assert(
    fc.asyncProperty(fc.array(call, { minLength: 1, maxLength: 12 }), async (calls) => {
      const h = harness(src);
      await h.runtime.receive(h.hello);
      const ready = h.out[0] as Extract<SandboxMessage, { t: "ready" }>;
      const replayed = { state: {}, memory: {} };
      // Frames are copies on the wire; in this in-process harness, copy them explicitly.
      applyDelta(replayed, structuredClone(ready.delta));
      let last: unknown = structuredClone(replayed.state);
      for (let i = 0; i < calls.length; i++) {
        const r = await h.invoke(calls[i], i + 1);
        applyDelta(replayed, structuredClone(r.delta));
        if (r.error === undefined) last = r.output;
        deepStrictEqual(replayed.state, last, `after call ${i}`);
      }
    }),
    { numRuns: 60 },
  );
});
