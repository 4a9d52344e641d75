import { ok, strictEqual } from "node:assert";
import { encodeFrame } from "../protocol/mod.ts";
import { spawnSandbox } from "../sandbox/mod.ts";
import { join } from "node:path";
import { PROJECT_ROOT } from "./supervisor.ts";
import { type ChannelClose, SandboxChannel } from "./sandbox_channel.ts";

/** A jailed sandbox that writes `bytes` (hex) to its stdout and then waits. */
async function hostile(hex: string): Promise<ChannelClose> {
  const dir = await Deno.makeTempDir({ prefix: "o-hostile-" });
  const entry = join(dir, "hostile.ts");
  await Deno.writeTextFile(
    entry,
    `const hex = ${JSON.stringify(hex)};
const bytes = new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
Deno.stdout.writeSync(bytes);
await new Promise(() => setInterval(() => {}, 1000));`,
  );
  const process = spawnSandbox({
    entry,
    importMap: join(PROJECT_ROOT, "agent", "import_map.json"),
    readDirs: [dir],
    tier: "jail",
    limits: {
      memoryMb: 128,
      cpuS: 5,
      files: 64,
      processes: 16,
      tmpMb: 8,
      stderrBytesMax: 4096,
      wallMs: 10_000,
    },
  });
  const messages: unknown[] = [];
  const channel = new SandboxChannel(process, "the-secret", {
    onMessage: (m) => messages.push(m),
    onClose: () => {},
  });
  const close = await channel.closed;
  strictEqual(messages.length, 0, "nothing from a hostile sandbox reaches the host");
  await Deno.remove(dir, { recursive: true });
  return close;
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("SandboxChannel kills a sandbox that sends an oversized frame header", async () => {
  const close = await hostile("ffffffff00");
  ok(close.reason.startsWith("protocol") && close.reason.includes("FRAME_TOO_LARGE"), close.reason);
});

Deno.test("SandboxChannel kills a sandbox that sends a malformed msgpack body", async () => {
  const close = await hostile("00000002c1c1");
  ok(close.reason.includes("MSGPACK_MALFORMED"), close.reason);
});

Deno.test("SandboxChannel kills a sandbox whose frames lack the spawn secret", async () => {
  const close = await hostile(hex(encodeFrame({ t: "pong", k: "guessed", n: 1 })));
  ok(close.reason.includes("FRAME_UNAUTHENTICATED"), close.reason);
});

Deno.test("SandboxChannel kills a sandbox that sends a well-formed frame of an unknown kind", async () => {
  const close = await hostile(hex(encodeFrame({ t: "exec", k: "the-secret", cmd: "rm -rf /" })));
  ok(close.reason.includes("FRAME_INVALID"), close.reason);
});
