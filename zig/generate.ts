/**
 * Generated Zig modules (O V2 Phase 5): templates with validated parameters, a compile pipeline that runs
 * `zig build-lib` inside a sandbox with limits, compile errors as structured feedback (file:line:col:
 * message), and a comparison of the loaded result with a TypeScript twin on the same inputs that returns
 * evidence (equal outputs? faster?) for the arbiter.
 *
 * The sandbox: the Zig compiler is not Deno, so sandbox/'s Deno-specific spawner does not fit. The
 * compile runs under `prlimit` (CPU seconds, file size, open files, no core) inside bubblewrap with every
 * namespace unshared (no network), a read-only /usr and toolchain, a private /tmp, and only the work
 * directory and the generated-module cache writable; a wall-clock timer SIGKILLs the process group. Where
 * bubblewrap cannot run, the compile runs under prlimit alone and the result says `sandbox: "prlimit"`.
 *
 * @module
 */
import { decode, OError } from "../protocol/mod.ts";
import { ensureToolchain, ROOT } from "./build.ts";
import { type OModule, openModule } from "./ffi.ts";
import {
  COMPILE_DIAGNOSTICS_MAX,
  COMPILE_MEMORY_MB_DEFAULT,
  COMPILE_WALL_MS_MAX,
  KERNEL_ELEMENTS_MAX,
} from "./limits.ts";

const TEMPLATE_DIR = `${ROOT}/zig/templates`;
const SHARED_SOURCES = ["o.zig", "msgpack.zig"];
/** The Zig cache generated modules share (compiler_rt and std are built once, not per candidate). */
const GENERATED_CACHE_DIR = `${ROOT}/zig-out/generated-cache`;
const GENERATED_LIB_DIR = `${ROOT}/zig-out/generated`;

/** Thrown when template parameters are invalid; `issues` lists every problem, not just the first. */
export class TemplateParamError extends OError {
  readonly issues: { param: string; message: string }[];
  constructor(issues: { param: string; message: string }[]) {
    super(
      "TEMPLATE_PARAMS",
      `Invalid template parameters: ${issues.map((i) => `${i.param}: ${i.message}`).join("; ")}`,
    );
    this.issues = issues;
  }
}

/** Operations a numeric kernel can export. */
export type KernelOp = "sum" | "dot" | "sort";

/** Parameters of the `numeric_kernel` template. */
export interface NumericKernelParams {
  /** Module name, `[a-z][a-z0-9_]{0,31}`; the library is `libo_<name>-<hash>.so`. */
  name: string;
  /** Semver reported by `o_version`. @default "1.0.0" */
  version?: string;
  /** Which operations to include. @default ["sum", "dot", "sort"] */
  ops?: KernelOp[];
  /** Independent accumulator lanes for sum and dot (1, 2, 4, 8 or 16). @default 4 */
  unroll?: number;
  /** `lanes` (fast, lane order) or `kahan` (compensated, for sum). @default "lanes" */
  accumulate?: "lanes" | "kahan";
  /** Sort order. @default "asc" */
  sortOrder?: "asc" | "desc";
  /** Largest array accepted, elements. @default 10_000_000 */
  elementsMax?: number;
}

type Resolved = Required<NumericKernelParams>;

const TEMPLATE_NESTING_MAX = 8;
const NAME_RE = /^[a-z][a-z0-9_]{0,31}$/;
const SEMVER_RE = /^\d{1,4}\.\d{1,4}\.\d{1,4}$/;
const OPS: readonly KernelOp[] = ["sum", "dot", "sort"];
const UNROLLS = [1, 2, 4, 8, 16];

/**
 * Checks `numeric_kernel` parameters and fills in the defaults.
 *
 * @param params Untrusted parameters (e.g. from an evolution operator or an LLM).
 * @returns The complete parameters.
 * @throws {TemplateParamError} With every issue found.
 */
export function validateKernelParams(params: unknown): Resolved {
  const issues: { param: string; message: string }[] = [];
  const p = (params ?? {}) as Record<string, unknown>;
  if (typeof params !== "object" || params === null || Array.isArray(params)) {
    throw new TemplateParamError([{ param: "(root)", message: "must be an object" }]);
  }
  const known = new Set(["name", "version", "ops", "unroll", "accumulate", "sortOrder", "elementsMax"]);
  for (const key of Object.keys(p)) {
    if (!known.has(key)) issues.push({ param: key, message: "is not a parameter" });
  }
  const out: Resolved = {
    name: String(p.name ?? ""),
    version: (p.version ?? "1.0.0") as string,
    ops: (p.ops ?? [...OPS]) as KernelOp[],
    unroll: (p.unroll ?? 4) as number,
    accumulate: (p.accumulate ?? "lanes") as "lanes" | "kahan",
    sortOrder: (p.sortOrder ?? "asc") as "asc" | "desc",
    elementsMax: (p.elementsMax ?? KERNEL_ELEMENTS_MAX) as number,
  };
  if (typeof p.name !== "string" || !NAME_RE.test(p.name)) {
    issues.push({ param: "name", message: "must match [a-z][a-z0-9_]{0,31}" });
  }
  if (typeof out.version !== "string" || !SEMVER_RE.test(out.version)) {
    issues.push({ param: "version", message: "must be a semver like 1.2.3" });
  }
  if (!Array.isArray(out.ops) || out.ops.length === 0) {
    issues.push({ param: "ops", message: `must be a non-empty array of ${OPS.join(", ")}` });
  } else {
    for (const op of out.ops) {
      if (!OPS.includes(op)) issues.push({ param: "ops", message: `unknown op ${JSON.stringify(op)}` });
    }
    if (new Set(out.ops).size !== out.ops.length) issues.push({ param: "ops", message: "holds a duplicate" });
  }
  if (!UNROLLS.includes(out.unroll)) {
    issues.push({ param: "unroll", message: `must be one of ${UNROLLS.join(", ")}` });
  }
  if (out.accumulate !== "lanes" && out.accumulate !== "kahan") {
    issues.push({ param: "accumulate", message: "must be lanes or kahan" });
  }
  if (out.sortOrder !== "asc" && out.sortOrder !== "desc") {
    issues.push({ param: "sortOrder", message: "must be asc or desc" });
  }
  if (!Number.isInteger(out.elementsMax) || out.elementsMax < 1 || out.elementsMax > KERNEL_ELEMENTS_MAX) {
    issues.push({ param: "elementsMax", message: `must be an integer in 1..${KERNEL_ELEMENTS_MAX}` });
  }
  if (issues.length > 0) throw new TemplateParamError(issues);
  return out;
}

/**
 * Fills a template: `{{#flag}}…{{/flag}}` sections stay when `flags[flag]` is true and vanish otherwise
 * (no nesting of the same flag), then `{{key}}` takes `values[key]`. Anything left unfilled is an error.
 *
 * @param template The template text.
 * @param values Placeholder values (inserted verbatim: validate them first).
 * @param flags Section switches.
 * @returns The filled text.
 * @throws {TemplateParamError} When a placeholder or section has no value.
 */
export function fillTemplate(
  template: string,
  values: Record<string, string>,
  flags: Record<string, boolean>,
): string {
  // Sections of different flags may nest: each pass removes the outermost ones, a few passes reach the bottom.
  let text = template;
  for (let pass = 0; pass < TEMPLATE_NESTING_MAX && text.includes("{{#"); pass++) {
    text = text.replace(/\{\{#(\w+)\}\}\n?([\s\S]*?)\{\{\/\1\}\}\n?/g, (_, flag: string, body: string) => {
      if (!(flag in flags)) throw new TemplateParamError([{ param: flag, message: "section has no flag" }]);
      return flags[flag] ? body : "";
    });
  }
  text = text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    if (!(key in values)) throw new TemplateParamError([{ param: key, message: "placeholder has no value" }]);
    return values[key];
  });
  if (text.includes("{{")) {
    throw new TemplateParamError([{ param: "(template)", message: "unfilled {{ remains" }]);
  }
  return text;
}

/**
 * Renders the `numeric_kernel` template.
 *
 * @param params Parameters (validated here).
 * @returns The Zig source and the complete parameters.
 * @throws {TemplateParamError} On invalid parameters.
 */
export async function renderNumericKernel(
  params: NumericKernelParams,
): Promise<{ source: string; params: Resolved }> {
  const p = validateKernelParams(params);
  const template = await Deno.readTextFile(`${TEMPLATE_DIR}/numeric_kernel.zig.tmpl`);
  const source = fillTemplate(template, {
    params_json: JSON.stringify(p),
    version: p.version,
    unroll: String(p.unroll),
    elements_max: String(p.elementsMax),
    sort_order: p.sortOrder,
  }, {
    op_sum: p.ops.includes("sum"),
    op_dot: p.ops.includes("dot"),
    op_sort: p.ops.includes("sort"),
    accumulate_kahan: p.accumulate === "kahan",
    accumulate_lanes: p.accumulate === "lanes",
  });
  return { source, params: p };
}

/** One compiler message. */
export interface Diagnostic {
  /** Path relative to the compile's work directory (the generated module is `src/<name>.zig`). */
  file: string;
  line: number;
  col: number;
  severity: "error" | "note";
  message: string;
}

/** Options of {@link compileModule}. */
export interface CompileOptions {
  /** Module name (file and library name). */
  name: string;
  /** Wall time before the compile is killed, ms. @default 120000 */
  wallMs?: number;
  /** CPU seconds. @default 120 */
  cpuS?: number;
  /** Address-space bound of the compiler, MiB. @default 2048 */
  memoryMb?: number;
  /** Where the library goes. @default zig-out/generated */
  outDir?: string;
}

/** What a compile produced. */
export interface CompileResult {
  ok: boolean;
  /** The library, when `ok`. */
  libraryPath: string | null;
  /** SHA-256 of the source, hex (part of the library's file name). */
  sourceHash: string;
  diagnostics: Diagnostic[];
  /** Diagnostics beyond `COMPILE_DIAGNOSTICS_MAX`, counted but not kept. */
  diagnosticsDropped: number;
  /** The compiler's raw output (bounded). */
  output: string;
  /** Why the compile was stopped, if it was: `wall`, or null. */
  killedFor: "wall" | null;
  /** The isolation it ran under. */
  sandbox: "bwrap" | "prlimit";
  durationMs: number;
}

const DIAGNOSTIC_RE = /^(.+?):(\d+):(\d+): (error|note): (.*)$/;

/**
 * Extracts `file:line:col: error|note: message` lines from compiler output.
 *
 * @param output The compiler's stderr.
 * @param workDir The compile's work directory; paths under it are made relative.
 * @returns The diagnostics (at most `COMPILE_DIAGNOSTICS_MAX`) and how many more there were.
 */
export function parseDiagnostics(
  output: string,
  workDir: string,
): { diagnostics: Diagnostic[]; dropped: number } {
  const diagnostics: Diagnostic[] = [];
  let dropped = 0;
  for (const line of output.split("\n")) {
    const m = line.match(DIAGNOSTIC_RE);
    if (!m) continue;
    if (diagnostics.length >= COMPILE_DIAGNOSTICS_MAX) {
      dropped++;
      continue;
    }
    const file = m[1].startsWith(`${workDir}/`) ? m[1].slice(workDir.length + 1) : m[1];
    diagnostics.push({
      file,
      line: Number(m[2]),
      col: Number(m[3]),
      severity: m[4] as "error" | "note",
      message: m[5],
    });
  }
  return { diagnostics, dropped };
}

async function sha256Hex(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

let bwrapUsable: boolean | undefined;

function canUseBwrap(): boolean {
  if (bwrapUsable !== undefined) return bwrapUsable;
  try {
    const out = new Deno.Command("bwrap", {
      args: ["--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr", ...rootLinks(), "/bin/true"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    bwrapUsable = out.success;
  } catch {
    bwrapUsable = false;
  }
  return bwrapUsable;
}

/** /bin, /lib, /lib64: symlinks into /usr on merged-usr systems, directories elsewhere. */
function rootLinks(): string[] {
  const args: string[] = [];
  for (const dir of ["/bin", "/lib", "/lib64", "/sbin"]) {
    try {
      const stat = Deno.lstatSync(dir);
      if (stat.isSymlink) args.push("--symlink", Deno.readLinkSync(dir), dir);
      else args.push("--ro-bind", dir, dir);
    } catch {
      // Not on this system.
    }
  }
  return args;
}

function sandboxLine(
  zig: string,
  zigArgs: string[],
  workDir: string,
  options: Required<Omit<CompileOptions, "outDir">>,
) {
  const toolchainDir = Deno.realPathSync(zig).replace(/\/zig$/, "");
  const limits = [
    "prlimit",
    `--cpu=${options.cpuS}`,
    `--as=${options.memoryMb * 1024 * 1024}`,
    `--fsize=${256 * 1024 * 1024}`,
    "--nofile=1024",
    "--core=0",
    "--",
  ];
  if (!canUseBwrap()) {
    return { line: [...limits, Deno.realPathSync(zig), ...zigArgs], sandbox: "prlimit" as const };
  }
  const jail = [
    "bwrap",
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--clearenv",
    "--setenv",
    "PATH",
    "/usr/bin:/bin",
    "--ro-bind",
    "/usr",
    "/usr",
    ...rootLinks(),
    // Zig finds its lib directory through /proc/self/exe. The private /tmp comes before every bind that
    // may live under the host's /tmp (the work directory, and the toolchain when the checkout is there).
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--ro-bind",
    toolchainDir,
    toolchainDir,
    "--bind",
    workDir,
    workDir,
    "--bind",
    GENERATED_CACHE_DIR,
    GENERATED_CACHE_DIR,
    "--chdir",
    workDir,
    "--",
  ];
  return { line: [...limits, ...jail, `${toolchainDir}/zig`, ...zigArgs], sandbox: "bwrap" as const };
}

/**
 * Compiles one generated module with `zig build-lib` in the sandbox. The module imports `o.zig`, which is
 * copied next to it, so it exports the full ABI.
 *
 * @param source The module's Zig source.
 * @param options Name and limits.
 * @returns The library path or structured diagnostics.
 */
export async function compileModule(source: string, options: CompileOptions): Promise<CompileResult> {
  if (!NAME_RE.test(options.name)) {
    throw new TemplateParamError([{ param: "name", message: "must match [a-z][a-z0-9_]{0,31}" }]);
  }
  const started = performance.now();
  const limits = {
    name: options.name,
    wallMs: Math.min(options.wallMs ?? COMPILE_WALL_MS_MAX, COMPILE_WALL_MS_MAX),
    cpuS: options.cpuS ?? 120,
    memoryMb: options.memoryMb ?? COMPILE_MEMORY_MB_DEFAULT,
  };
  const zig = await ensureToolchain();
  const sourceHash = await sha256Hex(source);
  const outDir = options.outDir ?? GENERATED_LIB_DIR;
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.mkdir(GENERATED_CACHE_DIR, { recursive: true });
  const workDir = await Deno.makeTempDir({ prefix: "o-zig-gen-" });
  try {
    await Deno.mkdir(`${workDir}/src`);
    await Deno.writeTextFile(`${workDir}/src/${options.name}.zig`, source);
    for (const file of SHARED_SOURCES) {
      await Deno.copyFile(`${ROOT}/zig/src/${file}`, `${workDir}/src/${file}`);
    }
    const zigArgs = [
      "build-lib",
      `src/${options.name}.zig`,
      "-dynamic",
      "-lc",
      "-OReleaseFast",
      "--name",
      `o_${options.name}`,
      `-femit-bin=${workDir}/libo_${options.name}.so`,
      "--cache-dir",
      `${workDir}/cache`,
      "--global-cache-dir",
      GENERATED_CACHE_DIR,
      "--color",
      "off",
    ];
    const { line, sandbox } = sandboxLine(zig, zigArgs, workDir, limits);
    const { output, killedFor, success } = await runBounded(line, workDir, limits.wallMs);
    const { diagnostics, dropped } = parseDiagnostics(output, workDir);
    let libraryPath: string | null = null;
    if (success) {
      libraryPath = `${outDir}/libo_${options.name}-${sourceHash.slice(0, 12)}.so`;
      await Deno.copyFile(`${workDir}/libo_${options.name}.so`, libraryPath);
    }
    return {
      ok: success,
      libraryPath,
      sourceHash,
      diagnostics,
      diagnosticsDropped: dropped,
      output,
      killedFor,
      sandbox,
      durationMs: performance.now() - started,
    };
  } finally {
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
}

const OUTPUT_BYTES_MAX = 256 * 1024;

async function runBounded(line: string[], cwd: string, wallMs: number) {
  const child = new Deno.Command(line[0], {
    args: line.slice(1),
    cwd,
    clearEnv: true,
    env: { PATH: "/usr/bin:/bin", HOME: cwd },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
  }).spawn();
  let killedFor: "wall" | null = null;
  const timer = setTimeout(() => {
    killedFor = "wall";
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }, wallMs);
  const [stdout, stderr, status] = await Promise.all([
    readBounded(child.stdout),
    readBounded(child.stderr),
    child.status,
  ]);
  clearTimeout(timer);
  return { output: stdout + stderr, killedFor, success: status.success && killedFor === null };
}

async function readBounded(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    if (bytes < OUTPUT_BYTES_MAX) chunks.push(chunk.subarray(0, OUTPUT_BYTES_MAX - bytes));
    bytes += chunk.length;
  }
  const all = new Uint8Array(Math.min(bytes, OUTPUT_BYTES_MAX));
  let at = 0;
  for (const c of chunks) (all.set(c, at), at += c.length);
  return new TextDecoder().decode(all);
}

/** What {@link generateNumericKernel} produced. */
export interface GeneratedModule {
  source: string;
  params: Resolved;
  compile: CompileResult;
}

/**
 * Template → validated parameters → source → sandboxed compile.
 *
 * @param params Kernel parameters.
 * @param options Compile limits and output directory.
 * @returns Source, parameters and the compile result (diagnostics when it failed).
 * @throws {TemplateParamError} On invalid parameters (nothing is compiled).
 */
export async function generateNumericKernel(
  params: NumericKernelParams,
  options: Omit<CompileOptions, "name"> = {},
): Promise<GeneratedModule> {
  const { source, params: resolved } = await renderNumericKernel(params);
  const compile = await compileModule(source, { ...options, name: resolved.name });
  return { source, params: resolved, compile };
}

/** A numeric kernel's request, as both the module and its twin take it. */
export type KernelRequest =
  | { op: "sum"; a: Float64Array }
  | { op: "dot"; a: Float64Array; b: Float64Array }
  | {
    op: "sort";
    a: Float64Array;
  };

function bytesOf(a: Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Encodes a kernel request as msgpack in one allocation (f64 arrays as bin32, copied once): the general
 * encoder grows its buffer by doubling, which costs more than the kernel itself on large arrays.
 *
 * @param request The request.
 * @returns The msgpack bytes `{op, a[, b]}`.
 */
export function encodeKernelRequest(request: KernelRequest): Uint8Array {
  const arrays: [string, Float64Array][] = [["a", request.a]];
  if (request.op === "dot") arrays.push(["b", request.b]);
  let size = 1 + 3 + 1 + request.op.length;
  for (const [, a] of arrays) size += 2 + 5 + a.byteLength;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  out[at++] = 0x80 | (1 + arrays.length);
  out.set([0xa2, 0x6f, 0x70], at); // "op"
  at += 3;
  out[at++] = 0xa0 | request.op.length;
  for (let i = 0; i < request.op.length; i++) out[at++] = request.op.charCodeAt(i);
  for (const [key, a] of arrays) {
    out[at++] = 0xa1;
    out[at++] = key.charCodeAt(0);
    out[at++] = 0xc6;
    view.setUint32(at, a.byteLength);
    at += 4;
    out.set(bytesOf(a), at);
    at += a.byteLength;
  }
  return out;
}

/**
 * The TypeScript twin of a numeric kernel: the same arithmetic in the same order, so that a correct
 * kernel gives bit-identical answers.
 *
 * @param params The kernel's parameters.
 * @returns A function from request to answer (`{value}` or `{values}`).
 */
export function numericKernelTwin(
  params: NumericKernelParams,
): (request: KernelRequest) => { value?: number; values?: Float64Array } {
  const p = validateKernelParams(params);
  const lanesSum = (a: Float64Array, b: Float64Array | null): number => {
    const lanes = new Float64Array(p.unroll);
    const n = a.length;
    let i = 0;
    for (; i + p.unroll <= n; i += p.unroll) {
      for (let l = 0; l < p.unroll; l++) lanes[l] += b ? a[i + l] * b[i + l] : a[i + l];
    }
    let total = 0;
    for (let l = 0; l < p.unroll; l++) total += lanes[l];
    for (; i < n; i++) total += b ? a[i] * b[i] : a[i];
    return total;
  };
  const kahan = (a: Float64Array): number => {
    let total = 0;
    let carry = 0;
    for (let i = 0; i < a.length; i++) {
      const y = a[i] - carry;
      const t = total + y;
      carry = (t - total) - y;
      total = t;
    }
    return total;
  };
  return (request) => {
    if (request.op === "sum") {
      return { value: p.accumulate === "kahan" ? kahan(request.a) : lanesSum(request.a, null) };
    }
    if (request.op === "dot") return { value: lanesSum(request.a, request.b) };
    const sorted = Float64Array.from(request.a).sort();
    return { values: p.sortOrder === "asc" ? sorted : sorted.reverse() };
  };
}

/** One case of a twin comparison. */
export interface TwinCase {
  op: string;
  elements: number;
  equal: boolean;
  /** Largest absolute difference between the answers (0 when bit-identical). */
  diffAbsMax: number;
  /** The FFI call with the request already in wire form, answer decoded included. */
  zigMsMedian: number;
  /** Encoding the request into wire form (a copy of the arrays). */
  encodeMsMedian: number;
  tsMsMedian: number;
  /** tsMsMedian / zigMsMedian: above 1 means the Zig call is faster when data already is in wire form. */
  speedup: number;
  /** tsMsMedian / (zigMsMedian + encodeMsMedian): the same, paying the copy into wire form. */
  speedupEndToEnd: number;
}

/** The evidence {@link compareKernelWithTwin} returns. */
export interface TwinEvidence {
  library: { path: string; version: string; sha256: string };
  allEqual: boolean;
  /** Geometric mean of the per-case speedups. */
  speedupGeomean: number;
  cases: TwinCase[];
  repeats: number;
}

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function diffOf(
  a: { value?: number; values?: Float64Array },
  b: { value?: number; values?: Float64Array },
): number {
  if (a.value !== undefined || b.value !== undefined) {
    if (Object.is(a.value, b.value)) return 0;
    return Math.abs((a.value ?? NaN) - (b.value ?? NaN));
  }
  const x = a.values ?? new Float64Array(0);
  const y = b.values ?? new Float64Array(0);
  if (x.length !== y.length) return Infinity;
  let max = 0;
  for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) max = Math.max(max, Math.abs(x[i] - y[i]));
  return max;
}

function fromWire(answer: unknown): { value?: number; values?: Float64Array } {
  const a = answer as { value?: number; values?: Uint8Array };
  if (a.values instanceof Uint8Array) {
    const copy = a.values.slice();
    return { values: new Float64Array(copy.buffer, 0, copy.byteLength / 8) };
  }
  return { value: a.value };
}

/**
 * Loads a generated kernel and runs it and its TypeScript twin on the same inputs: are the answers equal,
 * and which is faster (median of `repeats` runs each, FFI and msgpack included on the Zig side)?
 *
 * @param libraryPath The compiled kernel.
 * @param twin The twin (e.g. {@link numericKernelTwin}).
 * @param cases Inputs.
 * @param options `repeats` (default 5), `tolerance` for equality (default 0: bit-identical).
 * @returns Evidence for the arbiter.
 */
export async function compareKernelWithTwin(
  libraryPath: string,
  twin: (request: KernelRequest) => { value?: number; values?: Float64Array },
  cases: KernelRequest[],
  options: { repeats?: number; tolerance?: number } = {},
): Promise<TwinEvidence> {
  const repeats = options.repeats ?? 5;
  const tolerance = options.tolerance ?? 0;
  const module: OModule = await openModule(libraryPath);
  try {
    const results: TwinCase[] = [];
    for (const request of cases) {
      const zigTimes: number[] = [];
      const encodeTimes: number[] = [];
      const tsTimes: number[] = [];
      let zigAnswer: { value?: number; values?: Float64Array } = {};
      let tsAnswer: { value?: number; values?: Float64Array } = {};
      for (let r = 0; r < repeats; r++) {
        let t = performance.now();
        const wire = encodeKernelRequest(request);
        encodeTimes.push(performance.now() - t);
        t = performance.now();
        zigAnswer = fromWire(decode(module.callRaw(wire)));
        zigTimes.push(performance.now() - t);
        t = performance.now();
        tsAnswer = twin(request);
        tsTimes.push(performance.now() - t);
      }
      const diff = diffOf(zigAnswer, tsAnswer);
      const zigMs = median(zigTimes);
      const encodeMs = median(encodeTimes);
      const tsMs = median(tsTimes);
      results.push({
        op: request.op,
        elements: request.a.length,
        equal: diff <= tolerance,
        diffAbsMax: diff,
        zigMsMedian: zigMs,
        encodeMsMedian: encodeMs,
        tsMsMedian: tsMs,
        speedup: tsMs / Math.max(zigMs, 1e-6),
        speedupEndToEnd: tsMs / Math.max(zigMs + encodeMs, 1e-6),
      });
    }
    const geomean = Math.exp(
      results.reduce((s, c) => s + Math.log(c.speedup), 0) / Math.max(results.length, 1),
    );
    return {
      library: { path: libraryPath, version: module.version, sha256: module.info.sha256 },
      allEqual: results.every((c) => c.equal),
      speedupGeomean: geomean,
      cases: results,
      repeats,
    };
  } finally {
    await module.close();
  }
}
