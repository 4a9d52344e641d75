import { defineAgent } from "@o/agent";

/** The benchmark agent: `{set: KEY, value}` writes one of at most 1,000 keys (a WAL record each); `{get}` reads. */
export default defineAgent<Record<string, unknown>>({
  name: "kv",
  version: "1.0.0",
  doc: "A small key-value store for benchmarks",
  handle: (ctx) => {
    const key = ctx.arg("set");
    if (typeof key === "string") {
      ctx.state[key.slice(0, 3)] = ctx.arg("value");
      return { ok: true };
    }
    return { value: ctx.state[String(ctx.arg("get"))] ?? null };
  },
});
