/**
 * The escape and exhaustion battery of `audit`: each case is hostile code that tries one way out (or one
 * way to exhaust the machine) and prints whatever it obtains. Canaries (sandbox/canaries.ts) judge
 * whether it escaped; limits judge whether an exhaustion was contained. The probes report attempts in
 * their result (`GOT …` or `denied …`), so the table shows what happened, not only whether it mattered.
 *
 * @module
 */
import type { CanaryInfo } from "./canaries.ts";

/** What a case attacks. */
export type AuditCategory =
  | "file"
  | "env"
  | "network"
  | "internals"
  | "process"
  | "write"
  | "persistence"
  | "exhaustion";

/** The kill reasons of `sandbox run`, or `null` for "ended on its own". */
export type KillReason = "cpu" | "memory" | "wall" | "output" | null;

/** One case of the battery. */
export interface AuditCase {
  name: string;
  category: AuditCategory;
  /** What containment looks like, for the table. */
  expected: string;
  /** The code of each run (persistence cases run twice, in fresh sandboxes). */
  sources: (c: CanaryInfo & { helperPid: number; protectedPath: string }) => string[];
  /** Wall limit of each run, ms. @default 5000 */
  timeoutMs?: number;
  /** Memory limit of each run, MiB. @default 256 */
  memoryMb?: number;
  /** Acceptable ends (exhaustion cases); absent: any end within the limits. */
  killedFor?: KillReason[];
  /** Whether the unsandboxed control run may execute it (false for bombs). @default true */
  control?: boolean;
  /**
   * Whether the probe can trip a canary at all when run unsandboxed (the control run proves it). False
   * for probes that only look around (`/proc/self/maps`, internals) or need flags the control lacks.
   * @default true
   */
  provable?: boolean;
}

const j = JSON.stringify;
const fileUrl = (path: string) => j(`file://${path}`);

/** Prepended to every probe: runs an attempt and describes its outcome in one short line. */
export const PROBE_PRELUDE = `
const __try = async (f: () => unknown): Promise<string> => {
  try {
    const v = await f();
    return "GOT " + String(typeof v === "object" ? JSON.stringify(v) : v).slice(0, 300);
  } catch (e) {
    const err = e as { name?: string; message?: string };
    return "denied " + (err?.name ?? "") + ": " + String(err?.message ?? e).split("\\n")[0].slice(0, 100);
  }
};
const __all = async (fs: Record<string, () => unknown>): Promise<string> => {
  const out: string[] = [];
  for (const [k, f] of Object.entries(fs)) out.push(k + " " + await __try(f));
  return out.join(" | ");
};
`;

function probe(body: string): string {
  return `${PROBE_PRELUDE}\nexport default async () => ${body};\n`;
}

function textImport(path: string): string {
  return `(await import(${fileUrl(path)}, { with: { type: "text" } })).default`;
}

const FILE_CASES: AuditCase[] = [
  {
    name: "static text import of a file URL",
    category: "file",
    expected: "module not found",
    sources: (
      c,
    ) => [`import s from ${fileUrl(c.secretPath)} with { type: "text" };\nexport default () => s;\n`],
  },
  {
    name: "static bytes import of a file URL",
    provable: false,
    category: "file",
    expected: "module not found",
    sources: (c) => [
      `import b from ${fileUrl(c.secretPath)} with { type: "bytes" };\n` +
      `export default () => new TextDecoder().decode(b);\n`,
    ],
  },
  {
    name: "static JSON import of a file URL",
    category: "file",
    expected: "module not found",
    sources: (c) => [
      `import o from ${fileUrl(c.secretJsonPath)} with { type: "json" };\nexport default () => o.secret;\n`,
    ],
  },
  {
    name: "static import of a JS module file",
    category: "file",
    expected: "module not found",
    sources: (c) => [`import s from ${fileUrl(c.secretModulePath)};\nexport default () => s;\n`],
  },
  {
    name: "dynamic text/json/module imports of file URLs",
    category: "file",
    expected: "denied",
    sources: (c) => [probe(`__all({
      text: async () => ${textImport(c.secretPath)},
      json: async () => (await import(${
      fileUrl(c.secretJsonPath)
    }, { with: { type: "json" } })).default.secret,
      module: async () => (await import(${fileUrl(c.secretModulePath)})).default,
      query: async () => (await import(${
      fileUrl(c.secretPath + "?q=1#h")
    }, { with: { type: "text" } })).default,
    })`)],
  },
  {
    name: "host symlink to the secret",
    category: "file",
    expected: "denied",
    sources: (c) => [probe(`__all({
      import: async () => ${textImport(c.secretLinkPath)},
      read: () => Deno.readTextFileSync(${j(c.secretLinkPath)}),
    })`)],
  },
  {
    name: "symlinks inside a bound directory",
    category: "file",
    expected: "denied",
    sources: (c) => [probe(`__all({
      link: async () => ${textImport(`${c.boundDir}/link`)},
      root: async () => ${textImport(`${c.boundDir}/root${c.secretPath}`)},
      create: () => { Deno.symlinkSync(${
      j(c.secretPath)
    }, "/tmp/l"); return Deno.readTextFileSync("/tmp/l"); },
    })`)],
  },
  {
    name: "Deno.readTextFile and fetch(file:)",
    category: "file",
    expected: "denied",
    sources: (c) => [probe(`__all({
      sync: () => Deno.readTextFileSync(${j(c.secretPath)}),
      async: () => Deno.readTextFile(${j(c.secretPath)}),
      fetch: async () => await (await fetch(${fileUrl(c.secretPath)})).text(),
      dir: () => [...Deno.readDirSync(${j(c.dir)})].map((e) => e.name),
    })`)],
  },
  {
    name: "node:fs reads",
    category: "file",
    expected: "denied",
    sources: (c) => [
      `import fs from "node:fs";\n` + probe(`__all({
        readFileSync: () => fs.readFileSync(${j(c.secretPath)}, "utf8"),
        promises: () => fs.promises.readFile(${j(c.secretPath)}, "utf8"),
        openSync: () => fs.openSync(${j(c.secretPath)}, "r"),
      })`),
    ],
  },
  {
    name: "/proc/self/root, cwd and pid 1 root",
    category: "file",
    expected: "denied",
    sources: (c) => [probe(`__all({
      root: async () => ${textImport(`/proc/self/root${c.secretPath}`)},
      cwd: async () => ${textImport(`/proc/self/cwd/../${c.dir.split("/").pop()}/secret.txt`)},
      pid1: async () => ${textImport(`/proc/1/root${c.secretPath}`)},
      thread: async () => ${textImport(`/proc/thread-self/root${c.secretPath}`)},
    })`)],
  },
  {
    name: "/proc/self/fd, maps and mem",
    provable: false,
    category: "file",
    expected: "denied",
    sources: () => [probe(`__all({
      fd: () => [...Deno.readDirSync("/proc/self/fd")].length,
      maps: async () => ${textImport("/proc/self/maps")}.slice(0, 80),
      mem: async () => ${textImport("/proc/self/mem")}.slice(0, 80),
      status: async () => ${textImport("/proc/self/status")}.slice(0, 80),
    })`)],
  },
  {
    name: "node:sqlite ATTACH of the secret database",
    category: "file",
    expected: "denied",
    sources: (c) => [
      `import { DatabaseSync } from "node:sqlite";\n` + probe(`__all({
        attach: () => {
          const db = new DatabaseSync(":memory:");
          db.exec("ATTACH DATABASE '${c.secretDbPath}' AS s");
          return (db.prepare("SELECT secret FROM s.t").get() as { secret: string }).secret;
        },
        uri: () => {
          const db = new DatabaseSync(":memory:");
          db.exec("ATTACH DATABASE 'file:${c.secretDbPath}?mode=ro' AS s");
          return (db.prepare("SELECT secret FROM s.t").get() as { secret: string }).secret;
        },
        open: () => {
          const db = new DatabaseSync(${j(c.secretDbPath)});
          return (db.prepare("SELECT secret FROM t").get() as { secret: string }).secret;
        },
      })`),
    ],
  },
  {
    name: "process.loadEnvFile of a dotenv file",
    category: "file",
    expected: "denied",
    sources: (c) => [
      `import process from "node:process";\n` + probe(`__try(() => {
        process.loadEnvFile(${j(c.secretEnvFilePath)});
        return process.env.O_AUDIT_DOTENV;
      })`),
    ],
  },
  {
    name: "worker importing the secret",
    category: "file",
    expected: "denied",
    sources: (c) => [probe(`__try(() => new Promise((resolve, reject) => {
      const src = 'import s from ${fileUrl(c.secretPath)} with { type: "text" }; postMessage(s);';
      const w = new Worker("data:application/javascript," + encodeURIComponent(src), { type: "module" });
      w.onmessage = (e) => { w.terminate(); resolve(e.data); };
      w.onerror = (e) => { e.preventDefault(); w.terminate(); reject(new Error(e.message)); };
    }))`)],
  },
];

const ENV_CASES: AuditCase[] = [
  {
    name: "Deno.env",
    category: "env",
    expected: "denied",
    sources: (c) => [probe(`__all({
      get: () => Deno.env.get(${j(c.envName)}),
      toObject: () => Deno.env.toObject(),
    })`)],
  },
  {
    name: "process.env (global and node:process)",
    category: "env",
    expected: "empty",
    sources: (c) => [
      `import nodeProcess from "node:process";\n` + probe(`__all({
        global: () => (globalThis as unknown as { process?: { env: Record<string, string> } }).process?.env[${
        j(c.envName)
      }] ?? "absent",
        node: () => nodeProcess.env[${j(c.envName)}] ?? "absent",
        keys: () => Object.keys(nodeProcess.env).join(","),
      })`),
    ],
  },
  {
    name: "/proc/*/environ (self, parent, a host process)",
    category: "env",
    expected: "denied",
    sources: (c) => [probe(`__all({
      self: async () => ${textImport("/proc/self/environ")},
      parent: async () => (await import("file:///proc/" + Deno.ppid + "/environ", { with: { type: "text" } })).default,
      host: async () => ${textImport(`/proc/${c.helperPid}/environ`)},
      pid1: async () => ${textImport("/proc/1/environ")},
    })`)],
  },
];

function fetchTo(host: string, port: number): string {
  return `async () => (await fetch("http://${host}:${port}/", { signal: AbortSignal.timeout(1000) })).status`;
}

const NETWORK_CASES: AuditCase[] = [
  {
    name: "fetch to 127.0.0.1 and its aliases",
    category: "network",
    expected: "denied",
    sources: (c) => [probe(`__all({
      ip: ${fetchTo("127.0.0.1", c.port)},
      short: ${fetchTo("127.1", c.port)},
      hex: ${fetchTo("0x7f000001", c.port)},
      decimal: ${fetchTo("2130706433", c.port)},
      octal: ${fetchTo("0177.0.0.1", c.port)},
      mapped: ${fetchTo("[::ffff:127.0.0.1]", c.port)},
      localhost: ${fetchTo("localhost", c.port)},
      any: ${fetchTo("0.0.0.0", c.port)},
    })`)],
  },
  {
    name: "Deno.connect to 127.0.0.1 and aliases",
    category: "network",
    expected: "denied",
    sources: (c) => [probe(`__all({
      ip: async () => { const s = await Deno.connect({ hostname: "127.0.0.1", port: ${c.port} }); s.close(); return "connected"; },
      localhost: async () => { const s = await Deno.connect({ hostname: "localhost", port: ${c.port} }); s.close(); return "connected"; },
      mapped: async () => { const s = await Deno.connect({ hostname: "::ffff:127.0.0.1", port: ${c.port} }); s.close(); return "connected"; },
    })`)],
  },
  {
    name: "node:http request",
    category: "network",
    expected: "denied",
    sources: (c) => [
      `import http from "node:http";\n` + probe(`__try(() => new Promise((resolve, reject) => {
        const req = http.get("http://127.0.0.1:${c.port}/", (res) => resolve(res.statusCode));
        req.on("error", reject);
        setTimeout(() => reject(new Error("timeout")), 1000);
      }))`),
    ],
  },
  {
    name: "node:net connect",
    category: "network",
    expected: "denied",
    sources: (c) => [
      `import net from "node:net";\n` + probe(`__try(() => new Promise((resolve, reject) => {
        const s = net.connect(${c.port}, "127.0.0.1", () => { s.destroy(); resolve("connected"); });
        s.on("error", reject);
        setTimeout(() => reject(new Error("timeout")), 1000);
      }))`),
    ],
  },
  {
    name: "WebSocket to 127.0.0.1",
    category: "network",
    expected: "denied",
    sources: (c) => [probe(`__try(() => new Promise((resolve, reject) => {
      const ws = new WebSocket("ws://127.0.0.1:${c.port}/");
      ws.onopen = () => resolve("open");
      ws.onerror = () => reject(new Error("error event"));
      setTimeout(() => reject(new Error("timeout")), 1000);
    }))`)],
  },
  {
    name: "static import of an http URL",
    category: "network",
    expected: "refused (--no-remote)",
    sources: (c) => [`import "http://127.0.0.1:${c.port}/x.ts";\nexport default () => "loaded";\n`],
  },
  {
    name: "dynamic import of http URLs",
    category: "network",
    expected: "denied",
    sources: (c) => [probe(`__all({
      js: async () => await import("http://127.0.0.1:${c.port}/x.js"),
      text: async () => await import("http://127.0.0.1:${c.port}/x.txt", { with: { type: "text" } }),
    })`)],
  },
];

const SOCKET_CASE: AuditCase = {
  name: "Unix socket on the host",
  category: "network",
  expected: "denied",
  sources: (c) => [probe(`__all({
    deno: async () => { const s = await Deno.connect({ transport: "unix", path: ${
    j(c.socketPath)
  } }); s.close(); return "connected"; },
  })`)],
};

const INTERNALS_CASES: AuditCase[] = [
  {
    name: "Deno[Deno.internal] and core ops",
    provable: false,
    category: "internals",
    expected: "no read op reachable",
    sources: (c) => [probe(`__all({
      internal: () => Object.keys((Deno as unknown as Record<symbol, object>)[Deno.internal] ?? {}).slice(0, 20),
      core: () => {
        const g = globalThis as unknown as Record<string, { ops?: Record<string, (...a: unknown[]) => unknown> }>;
        const core = g.Deno && (g.Deno as unknown as { core?: { ops?: Record<string, (...a: unknown[]) => unknown> } }).core
          || g.__bootstrap?.core as unknown as { ops?: Record<string, (...a: unknown[]) => unknown> } | undefined;
        if (!core?.ops) return "no core";
        const op = core.ops.op_fs_read_file_text_sync ?? core.ops.op_read_file_text_sync;
        return op ? op(${j(c.secretPath)}) : "no read op";
      },
      symbol: () => String(Object.getOwnPropertySymbols(Deno).map(String)),
    })`)],
  },
  {
    name: "Deno.dlopen (FFI)",
    category: "internals",
    expected: "denied",
    sources: (c) => [probe(`__try(() => {
      const lib = Deno.dlopen("libc.so.6", { getenv: { parameters: ["buffer"], result: "pointer" } });
      const p = lib.symbols.getenv(new TextEncoder().encode(${j(c.envName + "\0")}));
      return p ? new Deno.UnsafePointerView(p).getCString() : "null";
    })`)],
  },
  {
    name: "worker with broader permissions",
    provable: false,
    category: "internals",
    expected: "denied",
    sources: (c) => [probe(`__try(() => new Promise((resolve, reject) => {
      const src = 'postMessage(Deno.readTextFileSync(${j(c.secretPath)}))';
      const w = new Worker("data:application/javascript," + encodeURIComponent(src), {
        type: "module",
        deno: { permissions: { read: true, env: true, net: true, run: true, ffi: true } },
      } as WorkerOptions);
      w.onmessage = (e) => { w.terminate(); resolve(e.data); };
      w.onerror = (e) => { e.preventDefault(); w.terminate(); reject(new Error(e.message)); };
    }))`)],
  },
  {
    name: "permission requests and KV",
    provable: false,
    category: "internals",
    expected: "denied",
    sources: () => [probe(`__all({
      request: async () => (await Deno.permissions.request({ name: "read" })).state,
      query: async () => (await Deno.permissions.query({ name: "read" })).state,
      kv: async () => await (Deno as unknown as { openKv: () => Promise<unknown> }).openKv(),
    })`)],
  },
];

const PROCESS_CASES: AuditCase[] = [
  {
    name: "Deno.Command spawn",
    category: "process",
    expected: "denied",
    sources: (c) => [probe(`__try(async () => {
      const out = await new Deno.Command("cat", { args: [${j(c.secretPath)}] }).output();
      return new TextDecoder().decode(out.stdout);
    })`)],
  },
  {
    name: "node:child_process exec and spawn",
    category: "process",
    expected: "denied",
    sources: (c) => [
      `import cp from "node:child_process";\n` + probe(`__all({
        execSync: () => cp.execSync("cat ${c.secretPath}").toString(),
        spawnSync: () => cp.spawnSync("cat", [${j(c.secretPath)}]).stdout?.toString(),
      })`),
    ],
  },
  {
    name: "fork bomb through Deno.Command",
    category: "process",
    expected: "denied",
    control: false,
    sources: () => [probe(`__try(() => {
      for (let i = 0; i < 10000; i++) new Deno.Command(Deno.execPath(), { args: ["eval", "1"] }).spawn();
      return "spawned";
    })`)],
  },
  {
    name: "fork bomb through node:child_process",
    category: "process",
    expected: "denied",
    control: false,
    sources: () => [
      `import cp from "node:child_process";\n` + probe(`__try(() => {
        for (let i = 0; i < 10000; i++) cp.spawn("sh", ["-c", ":"]);
        return "spawned";
      })`),
    ],
  },
];

const SIGNAL_CASE: AuditCase = {
  name: "signal a host process",
  category: "process",
  expected: "denied",
  sources: (c) => [
    `import process from "node:process";\n` + probe(`__all({
      deno: () => Deno.kill(${c.victimPid}, "SIGKILL"),
      node: () => process.kill(${c.victimPid}, "SIGKILL"),
      group: () => Deno.kill(-${c.victimPid}, "SIGKILL"),
    })`),
  ],
};

const WRITE_CASES: AuditCase[] = [
  {
    name: "write a file outside",
    category: "write",
    expected: "denied",
    sources: (c) => [
      `import fs from "node:fs";\n` + probe(`__all({
        deno: () => Deno.writeTextFileSync(${j(c.writePath)}, "x"),
        node: () => fs.writeFileSync(${j(c.writePath)}, "x"),
        mkdir: () => Deno.mkdirSync(${j(c.writePath)}),
        tmp: () => Deno.writeTextFileSync("/tmp/x", "x"),
      })`),
    ],
  },
  {
    name: "overwrite its own source and the SDK",
    category: "write",
    expected: "denied",
    sources: (c) => [
      `import fs from "node:fs";\n` + probe(`__all({
        deno: () => Deno.writeTextFileSync(${j(c.protectedPath)}, "// pwned"),
        node: () => fs.appendFileSync(${j(c.protectedPath)}, "// pwned"),
        chmod: () => Deno.chmodSync(${j(c.protectedPath)}, 0o777),
        remove: () => Deno.removeSync(${j(c.protectedPath)}),
      })`),
    ],
  },
];

const PERSISTENCE_CASES: AuditCase[] = [
  {
    name: "localStorage between two runs",
    category: "persistence",
    expected: "second run starts empty",
    sources: (c) => [
      probe(`__try(() => { localStorage.setItem("k", ${j(c.persistToken)}); return "stored"; })`),
      probe(`__try(() => localStorage.getItem("k") ?? "empty")`),
    ],
  },
  {
    name: "Cache API between two runs",
    category: "persistence",
    expected: "second run starts empty",
    sources: (c) => [
      probe(`__try(async () => {
        const cache = await caches.open("audit");
        await cache.put("http://audit.invalid/k", new Response(${j(c.persistToken)}));
        return "stored";
      })`),
      probe(`__try(async () => {
        const hit = await (await caches.open("audit")).match("http://audit.invalid/k");
        return hit ? await hit.text() : "empty";
      })`),
    ],
  },
];

const EXHAUSTION_CASES: AuditCase[] = [
  {
    name: "busy loop",
    category: "exhaustion",
    expected: "killed: wall",
    timeoutMs: 1000,
    killedFor: ["wall"],
    control: false,
    sources: () => ["while (true) {}\n"],
  },
  {
    name: "infinite await with a timer",
    category: "exhaustion",
    expected: "killed: wall",
    timeoutMs: 1000,
    killedFor: ["wall"],
    control: false,
    sources: () => ["setInterval(() => {}, 1000);\nexport default () => new Promise(() => {});\n"],
  },
  {
    name: "infinite await on nothing",
    category: "exhaustion",
    expected: "ends (deadlock detected)",
    timeoutMs: 1000,
    killedFor: [null, "wall"],
    control: false,
    sources: () => ["export default () => new Promise(() => {});\n"],
  },
  {
    name: "microtask flood",
    category: "exhaustion",
    expected: "killed: wall",
    timeoutMs: 1000,
    killedFor: ["wall", "memory"],
    control: false,
    sources: () => [
      "export default () => {\n  const f = (): void => queueMicrotask(f);\n  f();\n  return new Promise(() => {});\n};\n",
    ],
  },
  {
    name: "SIGTERM/SIGINT-ignoring busy loop",
    category: "exhaustion",
    expected: "killed: wall",
    timeoutMs: 1000,
    killedFor: ["wall"],
    control: false,
    sources: () => [
      'for (const s of ["SIGTERM", "SIGINT", "SIGHUP", "SIGXCPU"] as const) {\n' +
      "  try { Deno.addSignalListener(s, () => {}); } catch { /* denied */ }\n}\nwhile (true) {}\n",
    ],
  },
  {
    name: "heap bomb",
    category: "exhaustion",
    expected: "killed: memory",
    memoryMb: 128,
    killedFor: ["memory"],
    control: false,
    sources: () => ["const a: unknown[] = [];\nwhile (true) a.push({ x: Math.random(), y: [1, 2, 3] });\n"],
  },
  {
    name: "string bomb",
    category: "exhaustion",
    expected: "RangeError or memory",
    memoryMb: 128,
    killedFor: [null, "memory"],
    control: false,
    sources: () => ['const keep: string[] = [];\nlet s = "x";\nwhile (true) { s = s + s; keep.push(s); }\n'],
  },
  {
    name: "ArrayBuffer bomb",
    category: "exhaustion",
    expected: "killed: memory",
    memoryMb: 128,
    killedFor: ["memory"],
    control: false,
    sources: () => ["const a: Uint8Array[] = [];\nwhile (true) a.push(new Uint8Array(4 << 20).fill(1));\n"],
  },
  {
    name: "huge ArrayBuffer touched",
    category: "exhaustion",
    expected: "killed: memory",
    memoryMb: 128,
    killedFor: ["memory", null],
    control: false,
    sources: () => ["new Uint8Array(2 * 1024 * 1024 * 1024).fill(7);\n"],
  },
  {
    name: "WebAssembly.Memory growth",
    category: "exhaustion",
    expected: "killed: memory",
    memoryMb: 128,
    killedFor: ["memory", null],
    control: false,
    sources: () => [
      "const m = new WebAssembly.Memory({ initial: 1, maximum: 65536 });\n" +
      "while (true) { m.grow(64); new Uint8Array(m.buffer).fill(1); }\n",
    ],
  },
  {
    name: "worker bomb",
    category: "exhaustion",
    expected: "killed: memory (or tasks bound)",
    memoryMb: 128,
    timeoutMs: 3000,
    killedFor: ["memory", "wall", null],
    control: false,
    sources: () => [
      'const src = "const a = []; setInterval(() => a.push(new Uint8Array(1 << 20).fill(1)), 1);";\n' +
      "const ws: Worker[] = [];\n" +
      'for (let i = 0; i < 10000; i++) ws.push(new Worker("data:application/javascript," + encodeURIComponent(src), { type: "module" }));\n' +
      "export default () => new Promise(() => {});\n",
    ],
  },
  {
    name: "CPU burn in many workers",
    category: "exhaustion",
    expected: "killed: wall or cpu",
    timeoutMs: 1000,
    killedFor: ["wall", "cpu"],
    control: false,
    sources: () => [
      'for (let i = 0; i < 8; i++) new Worker("data:application/javascript,while(true){}", { type: "module" });\n' +
      "while (true) {}\n",
    ],
  },
  {
    name: "stdout flood",
    category: "exhaustion",
    expected: "killed: output",
    killedFor: ["output"],
    control: false,
    sources: () => ['const line = "x".repeat(1000);\nwhile (true) console.log(line);\n'],
  },
  {
    name: "stderr flood",
    category: "exhaustion",
    expected: "killed: output",
    killedFor: ["output"],
    control: false,
    sources: () => ['const line = "e".repeat(1000);\nwhile (true) console.error(line);\n'],
  },
  {
    name: "raw stdout flood without newlines",
    category: "exhaustion",
    expected: "killed: output",
    killedFor: ["output"],
    control: false,
    sources: () => ["const b = new Uint8Array(1 << 16).fill(65);\nwhile (true) Deno.stdout.writeSync(b);\n"],
  },
  {
    name: "oversized result",
    category: "exhaustion",
    expected: "killed: output",
    killedFor: ["output"],
    control: false,
    sources: () => ['export default () => "r".repeat(4 * 1024 * 1024);\n'],
  },
  {
    name: "disk fill of /tmp",
    category: "exhaustion",
    expected: "denied",
    killedFor: [null],
    control: false,
    sources: () => [probe(`__try(() => {
      const b = new Uint8Array(1 << 20);
      for (let i = 0; i < 1024; i++) Deno.writeFileSync("/tmp/fill" + i, b);
      return "filled";
    })`)],
  },
  {
    name: "disk fill through the Cache API",
    category: "exhaustion",
    expected: "bounded by tmpfs and memory",
    killedFor: [null, "memory"],
    control: false,
    sources: () => [probe(`__try(async () => {
      const cache = await caches.open("fill");
      const body = new Uint8Array(1 << 20).fill(1);
      let i = 0;
      for (; i < 512; i++) await cache.put("http://fill.invalid/" + i, new Response(body));
      return "stored " + i + " MiB";
    })`)],
  },
  {
    name: "fd exhaustion",
    category: "exhaustion",
    expected: "denied / bounded",
    killedFor: [null, "memory", "wall"],
    control: false,
    sources: () => [probe(`__all({
      open: () => { const fds = []; for (let i = 0; i < 100000; i++) fds.push(Deno.openSync("/dev/null")); return fds.length; },
      channels: () => { const cs = []; for (let i = 0; i < 100000; i++) cs.push(new MessageChannel()); return cs.length; },
    })`)],
  },
  {
    name: "deep recursion",
    category: "exhaustion",
    expected: "RangeError",
    killedFor: [null],
    control: false,
    sources: () => ["const f = (n: number): number => f(n + 1) + 1;\nexport default () => f(0);\n"],
  },
  {
    name: "timer flood",
    category: "exhaustion",
    expected: "killed: memory or wall",
    timeoutMs: 2000,
    memoryMb: 128,
    killedFor: ["memory", "wall", null],
    control: false,
    sources: () => ["while (true) setTimeout(() => {}, 1e9);\n"],
  },
];

/** The whole battery, in a stable order. */
export const AUDIT_CASES: readonly AuditCase[] = [
  ...FILE_CASES,
  ...ENV_CASES,
  ...NETWORK_CASES,
  SOCKET_CASE,
  ...INTERNALS_CASES,
  ...PROCESS_CASES,
  SIGNAL_CASE,
  ...WRITE_CASES,
  ...PERSISTENCE_CASES,
  ...EXHAUSTION_CASES,
];
