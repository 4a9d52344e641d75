/**
 * The entry module of an agent sandbox: frames in on stdin, frames out on stdout. It is started with no
 * permission; the agent's code arrives in the `hello` frame and is loaded from a `data:` URL.
 *
 * The SDK is imported statically here so the agent's own `import … from "@o/agent"` resolves to a module
 * that is already loaded (a permission-less process may not read new files).
 *
 * @module
 */
import "./mod.ts";
import {
  encodeFrame,
  FrameDecoder,
  type SandboxMessage,
  validateSupervisorMessage,
} from "../protocol/mod.ts";
import { AgentRuntime } from "./runtime.ts";

const stdout = Deno.stdout;

function send(msg: SandboxMessage): void {
  const frame = encodeFrame(msg);
  let written = 0;
  while (written < frame.length) written += stdout.writeSync(frame.subarray(written));
}

const runtime = new AgentRuntime(send);

// Agent code must not write raw bytes into the frame channel: console output becomes log frames.
let consoleSecret = "";
function consoleLog(level: "debug" | "info" | "warn" | "error") {
  return (...args: unknown[]) => {
    const msg = args.map((a) => typeof a === "string" ? a : Deno.inspect(a)).join(" ").slice(0, 4096);
    send({ t: "log", k: consoleSecret, level, msg });
  };
}
globalThis.console.log = consoleLog("info");
globalThis.console.info = consoleLog("info");
globalThis.console.debug = consoleLog("debug");
globalThis.console.warn = consoleLog("warn");
globalThis.console.error = consoleLog("error");

const decoder = new FrameDecoder();
try {
  for await (const chunk of Deno.stdin.readable) {
    for (const raw of decoder.push(chunk)) {
      const msg = validateSupervisorMessage(raw);
      if (msg.t === "hello") consoleSecret = msg.secret;
      if (msg.t === "shutdown") Deno.exit(0);
      await runtime.receive(msg);
    }
  }
} catch (e) {
  Deno.stderr.writeSync(new TextEncoder().encode(`sandbox: ${e instanceof Error ? e.message : e}\n`));
  Deno.exit(3);
}
Deno.exit(0);
