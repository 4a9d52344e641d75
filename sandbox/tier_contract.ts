/**
 * The tier contract: what every tier (jail, process, worker) promises to the code it runs and to the
 * supervisor, as one suite each tier's test runs (`runTierContract(Deno.test, "jail")`). A case a tier
 * cannot honour is skipped with the reason written here, never silently.
 *
 * @module
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { AUDIT_WALL_MARGIN_MS } from "./limits.ts";
import { leftoverPids } from "./leftovers.ts";
import { runInSandbox, runSource, runSpec } from "./run.ts";
import { runLimits } from "./policy.ts";
import { spawnSandbox, type Tier } from "./spawn.ts";

/** The `Deno.test` shape the contract registers its cases with. */
export type TestRegistrar = (t: { name: string; ignore?: boolean; fn: () => Promise<void> }) => void;

const MIB = 1024 * 1024;
const WALL_MS = 600;
const PROJECT_ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

function tagged(): string {
  return `o-contract-${crypto.randomUUID()}`;
}

/**
 * Registers the contract's cases for `tier`.
 *
 * @param test `Deno.test` (or a wrapper).
 * @param tier The tier under test.
 */
export function runTierContract(test: TestRegistrar, tier: Tier): void {
  const name = (what: string) => `${tier} tier ${what}`;

  test({
    name: name("runs the top level, awaits the default export and reports its result"),
    fn: async () => {
      const r = await runSource(`console.log("top");\nexport default async () => ({ n: 6 * 7 });\n`, {
        tier,
      });
      strictEqual(r.ok, true, r.stderr);
      strictEqual(r.tier, tier);
      strictEqual(r.stdout, "top\n");
      deepStrictEqual(r.result, { n: 42 });
      strictEqual(r.killed_for, null);
    },
  });

  test({
    name: name("propagates the code's exit code"),
    // A worker's Deno.exit ends the worker only; its host cannot see the code (trusted tier, documented).
    ignore: tier === "worker",
    fn: async () => {
      const r = await runSource("Deno.exit(3);\n", { tier });
      strictEqual(r.exit_code, 3);
      strictEqual(r.ok, false);
    },
  });

  test({
    name: name("reports an uncaught error as a failure with its message on stderr"),
    fn: async () => {
      const r = await runSource(`export default () => { throw new Error("boom-123"); };\n`, { tier });
      strictEqual(r.ok, false);
      ok(r.stderr.includes("boom-123"), r.stderr);
    },
  });

  test({
    name: name("gives the code no permission and an empty environment"),
    fn: async () => {
      const r = await runSource(
        `const t = (f: () => unknown) => { try { f(); return "allowed"; } catch (e) { return (e as Error).name; } };
export default () => ({
  env: t(() => Deno.env.toObject()),
  read: t(() => Deno.readTextFileSync("${PROJECT_ROOT}/deno.json")),
  write: t(() => Deno.writeTextFileSync("/tmp/contract", "x")),
  run: t(() => new Deno.Command(Deno.execPath(), { args: ["--version"] }).outputSync()),
});\n`,
        { tier },
      );
      deepStrictEqual(r.result, {
        env: "NotCapable",
        read: "NotCapable",
        write: "NotCapable",
        run: "NotCapable",
      });
    },
  });

  test({
    name: name("kills a busy loop within its wall limit + 100 ms and leaves no process"),
    fn: async () => {
      const tag = tagged();
      const r = await runSource("while (true) {}\n", { tier, timeoutMs: WALL_MS, tag });
      strictEqual(r.killed_for, "wall");
      strictEqual(r.timed_out, true);
      ok(r.duration_ms <= WALL_MS + AUDIT_WALL_MARGIN_MS, `gone after ${r.duration_ms} ms`);
      deepStrictEqual(leftoverPids(tag), []);
    },
  });

  test({
    name: name("kills a signal-ignoring loop within its wall limit + 100 ms and leaves no process"),
    fn: async () => {
      const tag = tagged();
      const source =
        `for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) Deno.addSignalListener(s, () => {});
while (true) {}\n`;
      const r = await runSource(source, { tier, timeoutMs: WALL_MS, tag });
      strictEqual(r.killed_for, "wall");
      ok(r.duration_ms <= WALL_MS + AUDIT_WALL_MARGIN_MS, `gone after ${r.duration_ms} ms`);
      deepStrictEqual(leftoverPids(tag), []);
    },
  });

  test({
    name: name("kills a CPU hog for cpu at its CPU-seconds bound"),
    fn: async () => {
      const spec = runSpec(tier, 0, 128);
      spec.limits = { ...spec.limits, cpuS: 1 };
      const r = await runInSandbox(spawnSandbox(spec), "while (true) {}\n", { timeoutMs: 10_000 });
      strictEqual(r.killed_for, "cpu");
      ok(r.duration_ms < 5000, `ran ${r.duration_ms} ms`);
    },
  });

  test({
    name: name("kills an ArrayBuffer bomb for memory within its bound"),
    fn: async () => {
      const tag = tagged();
      const source = "const a: Uint8Array[] = [];\nwhile (true) a.push(new Uint8Array(4 << 20).fill(1));\n";
      const r = await runSource(source, { tier, memoryMb: 128, tag });
      strictEqual(r.killed_for, "memory");
      ok(r.memory_peak_bytes <= 128 * MIB * 1.5, `peak ${r.memory_peak_bytes}`);
      deepStrictEqual(leftoverPids(tag), []);
    },
  });

  test({
    name: name("kills a heap bomb for memory"),
    fn: async () => {
      const r = await runSource("const a: unknown[] = [];\nwhile (true) a.push({ x: Math.random() });\n", {
        tier,
        memoryMb: 128,
      });
      strictEqual(r.killed_for, "memory");
    },
  });

  test({
    name: name("kills an output flood for output and keeps at most the bound"),
    fn: async () => {
      const r = await runSource(`const l = "x".repeat(1000);\nwhile (true) console.log(l);\n`, { tier });
      strictEqual(r.killed_for, "output");
      ok(r.stdout.length + r.stderr.length <= 1024 * 1024, `kept ${r.stdout.length}`);
    },
  });

  test({
    name: name("starts every run with empty localStorage and Cache API"),
    fn: async () => {
      // Workers have no localStorage; the Cache API covers them.
      const first = await runSource(
        `if (typeof localStorage !== "undefined") localStorage.setItem("k", "v");
await (await caches.open("c")).put("http://contract.invalid/", new Response("v"));
export default () => "set";\n`,
        { tier },
      );
      strictEqual(first.result, "set", first.stderr);
      const second = await runSource(
        `export default async () => [
  typeof localStorage === "undefined" ? null : localStorage.getItem("k"),
  (await (await caches.open("c")).match("http://contract.invalid/")) ?? null,
];\n`,
        { tier },
      );
      deepStrictEqual(second.result, [null, null], second.stderr);
    },
  });

  test({
    name: name("long-lived sandbox: kill() reaps the whole tree and reports the reason"),
    fn: async () => {
      const tag = tagged();
      const sandbox = spawnSandbox({
        entry: `${PROJECT_ROOT}/sandbox/run_entry.ts`,
        args: [tag],
        importMap: `${PROJECT_ROOT}/agent/import_map.json`,
        readDirs: [`${PROJECT_ROOT}/agent`, `${PROJECT_ROOT}/protocol`],
        tier,
        limits: { ...runLimits(0, 128), outputBytesMax: 0 },
      });
      const reader = sandbox.stdout.getReader();
      await reader.read(); // The ready line: the sandbox is up.
      sandbox.kill("test");
      const exit = await sandbox.exited;
      await reader.cancel().catch(() => {});
      await sandbox.stdin.close().catch(() => {});
      strictEqual(exit.killedFor, "test");
      strictEqual(exit.signal, "SIGKILL");
      deepStrictEqual(leftoverPids(tag), []);
    },
  });
}
