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
import { AgentRuntime, dataUrlLoader } from "./runtime.ts";

const stdout = Deno.stdout;
/** Bytes read from stdin per read call. */
const READ_BYTES = 64 * 1024;

// Frames produced in one turn of the event loop leave in one write (the supervisor batches the same way).
let outbox: Uint8Array[] = [];
let outboxBytes = 0;

function flush(): void {
  const frames = outbox;
  const bytes = frames.length === 1 ? frames[0] : new Uint8Array(outboxBytes);
  if (frames.length > 1) {
    let at = 0;
    for (const f of frames) (bytes.set(f, at), at += f.length);
  }
  outbox = [];
  outboxBytes = 0;
  let written = 0;
  while (written < bytes.length) written += stdout.writeSync(bytes.subarray(written));
}

function send(msg: SandboxMessage): void {
  const frame = encodeFrame(msg); // Throws for what cannot be encoded, before anything is queued.
  if (outbox.length === 0) queueMicrotask(flush);
  outbox.push(frame);
  outboxBytes += frame.length;
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

// Warm-up while nobody waits (a pooled sandbox sits here until it is taken): the first data: URL import
// sets up the module loader and the TypeScript transpiler, and the first frame decode compiles the
// decoder; the agent's own load then skips both.
await dataUrlLoader(
  'import { defineAgent } from "@o/agent";\nexport const warm: string = typeof defineAgent;\n',
)
  .catch(() => {});
new FrameDecoder().push(encodeFrame({ t: "warm", n: 1, s: "x" }));

const decoder = new FrameDecoder();
const chunk = new Uint8Array(READ_BYTES);
try {
  for (;;) {
    const n = await Deno.stdin.read(chunk);
    if (n === null) break;
    for (const raw of decoder.push(chunk.subarray(0, n))) {
      const msg = validateSupervisorMessage(raw);
      if (msg.t === "hello") consoleSecret = msg.secret;
      if (msg.t === "shutdown") {
        if (outbox.length > 0) flush();
        Deno.exit(0);
      }
      await runtime.receive(msg);
    }
  }
} catch (e) {
  Deno.stderr.writeSync(new TextEncoder().encode(`sandbox: ${e instanceof Error ? e.message : e}\n`));
  Deno.exit(3);
}
Deno.exit(0);
