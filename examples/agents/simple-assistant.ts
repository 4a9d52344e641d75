import { defineAgent, when } from "@o/agent";

export default defineAgent({
  name: "simple-assistant",
  version: "1.0.0",
  doc: "A simple assistant",
  tools: ["echo"],
  init: () => ({ greeted: 0 }),
  handle: (ctx) => when(ctx.hasTool("echo"), () => ctx.tools.echo(ctx.arg("message"))),
  evals: [{ input: { message: "hi" }, expect: "hi" }],
});
