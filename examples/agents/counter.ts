import { defineAgent } from "@o/agent";

/** Appends keys to durable state; the durability tests count on every acknowledged key being there once. */
export default defineAgent<{ keys: string[] }>({
  name: "counter",
  version: "1.0.0",
  doc: "Appends {add: KEY} to state.keys and answers {count}; {list: true} answers {keys}",
  init: () => ({ keys: [] }),
  handle: (ctx) => {
    if (ctx.arg("list") === true) return { keys: ctx.state.keys };
    const key = ctx.arg("add");
    if (typeof key !== "string") throw new TypeError("input needs 'add' (a string) or 'list: true'");
    ctx.state.keys.push(key);
    return { count: ctx.state.keys.length };
  },
  evals: [
    { input: { add: "a" }, expect: { count: 1 } },
    { input: { list: true }, expect: { keys: [] } },
  ],
});
