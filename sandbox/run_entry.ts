/**
 * The entry module of a `sandbox run` sandbox (and of pooled evaluation sandboxes): it starts with no
 * permission, waits for one frame `{source, nonce}` on stdin, loads the source from a `data:` URL exactly
 * as an agent sandbox loads candidate code, awaits its default export (if a function) and writes
 * `RESULT_MARK nonce JSON` as the last stdout line, then exits.
 *
 * The nonce arrives after this module has started and before the code loads, so code under test cannot
 * forge the result line (it could only lie about its own result anyway: kill reasons, exit codes and
 * limits are decided outside the sandbox). Every intrinsic the report needs is captured before the code
 * runs, so patching `JSON`, `Deno.stdout` or `TextEncoder` does not reach it.
 *
 * @module
 */
// Loaded up front so the code's `import … from "@o/agent"` resolves without read permission.
import "../agent/mod.ts";
import { FrameDecoder } from "../protocol/mod.ts";

/** Starts the result line: record separator, tag, then the nonce and the JSON (mirrored in run.ts). */
const RESULT_MARK = "\u001eO-RESULT ";
/** Written once this module is loaded, before it reads code (mirrored in run.ts). */
const READY_MARK = "\u001eO-READY\n";
/** Bytes read from stdin at a time while waiting for the start frame. */
const START_READ_BYTES = 64 * 1024;
/** The message key a worker posts its exit code under (mirrors worker_host.ts). */
const WORKER_EXIT_KEY = "__o_worker_exit";

const stdout = Deno.stdout;
const writeOut = stdout.writeSync.bind(stdout);
const stderr = Deno.stderr;
const writeErr = stderr.writeSync.bind(stderr);
const stringify = JSON.stringify;
const encoder = new TextEncoder();
const encode = encoder.encode.bind(encoder);
const denoExit = Deno.exit;
const inWorker = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";
const postToHost = inWorker ? (globalThis as unknown as Worker).postMessage.bind(globalThis) : null;

function writeAll(write: (b: Uint8Array) => number, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.length) at += write(bytes.subarray(at));
}

function exit(code: number): never {
  if (postToHost) postToHost({ [WORKER_EXIT_KEY]: code });
  return denoExit(code);
}

/** Stack traces name the code `code.ts` instead of repeating its whole `data:` URL in every frame. */
const CODE_NAME = "file:///sandbox/code.ts";

function fail(what: string, e: unknown): never {
  let text = e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e);
  // V8 shortens long URLs with "......", so match the URL's shape rather than the URL itself.
  text = text.replace(/data:application\/typescript;charset=utf-8,[^\s:)]*/g, CODE_NAME);
  writeAll(writeErr, encode(`${what}: ${text}\n`));
  return exit(1);
}

async function readStart(): Promise<{ source: string; nonce: string }> {
  const decoder = new FrameDecoder();
  // Deno.stdin.read, not the ReadableStream: a pooled sandbox's first read is on the measured path, and
  // the stream's first pass through its (lazily compiled) machinery costs about a millisecond more.
  const buf = new Uint8Array(START_READ_BYTES);
  while (true) {
    const n = await Deno.stdin.read(buf);
    if (n === null) throw new Error("stdin closed before the start frame");
    const frames = decoder.push(buf.subarray(0, n));
    if (frames.length === 0) continue;
    const start = frames[0] as { source?: unknown; nonce?: unknown };
    if (typeof start?.source !== "string" || typeof start.nonce !== "string") {
      throw new Error("the start frame must be {source, nonce}");
    }
    return { source: start.source, nonce: start.nonce };
  }
}

writeAll(writeOut, encode(READY_MARK));
const { source, nonce } = await readStart().catch((e) => fail("sandbox", e));
// Escape the characters encodeURIComponent leaves alone too, so the URL never holds ")" and a stack
// frame's URL ends exactly at ":line:column".
const codeUrl = "data:application/typescript;charset=utf-8," +
  encodeURIComponent(source).replace(/[!'()*~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  fail("Uncaught (in promise)", event.reason);
});
globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  fail("Uncaught error", event.error);
});
let mod: { default?: unknown };
try {
  mod = await import(codeUrl);
} catch (e) {
  fail("Uncaught error while loading the module", e);
}
let value: unknown = null;
try {
  if (typeof mod.default === "function") value = await (mod.default as () => unknown)();
} catch (e) {
  fail("Uncaught error from the default export", e);
}
let json: string | undefined;
try {
  json = stringify(value === undefined ? null : value);
} catch (e) {
  fail("Cannot report result", e);
}
writeAll(writeOut, encode(`${RESULT_MARK}${nonce} ${json ?? "null"}\n`));
exit(0);
