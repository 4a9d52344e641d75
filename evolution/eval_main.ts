/**
 * The entry module of an evaluation jail. It starts with no permission and reads one start frame:
 * the live version's source (whose evals, `score` functions included, are the yardstick), the regression
 * set, and the candidates (each as its plain source and its work-counting copy, see instrument.ts). It
 * announces itself with a `{t: "ready"}` frame first (so a warm pool can start jails ahead of need), then
 * loads every module from a `data:` URL, as agent/sandbox_main.ts does, with `@o/agent` imported
 * statically here so the agents' own imports resolve without read permission.
 *
 * Candidates run one after another, each as its own module instance (a distinct `data:` URL), against
 * fresh deep copies of every input. Per case: `repeats` timed runs; the first run's output decides
 * pass/score, and, for a work-counting copy, its work units. A call over
 * `caseMsMax`, a throw, or an output that cannot be sent (msgpack) fails the case.
 *
 * Frames out (all carry the nonce as `k`): `beat` before every call (the host's watchdog kills the jail
 * when beats stop, and blames the candidate that was running), `result` per candidate, `breach` when a
 * candidate changed a shared built-in (the host kills the jail and re-runs the others), `fatal` when the
 * live version does not load, `done` at the end.
 *
 * Why module instances and not a Worker per candidate: a permission-less process cannot give a Worker the
 * SDK (a worker's imports are checked against read permission), a Worker costs a fresh isolate and SDK
 * load per candidate, and separate globals would not be a security wall anyway: the jail is the wall,
 * and every candidate that could be promoted is re-evaluated alone in its own jail. Shared built-ins
 * are fingerprinted after each candidate so one that changes them is caught and blamed.
 *
 * @module
 */
import * as sdk from "../agent/mod.ts";
import { decode, deepEqual, encode, encodeFrame, FrameDecoder } from "../protocol/mod.ts";

/** An agent as evolution/compile.ts made it. */
interface Compiled {
  form: "function" | "module";
  code: string;
  counted: boolean;
}

/** The start frame. */
interface Start {
  nonce: string;
  live: Compiled;
  /** The live version's work-counting copy: its work per case sets each case's work budget. */
  liveCounted: Compiled | null;
  /** Most probe cases derived from the evals' inputs (0: none). */
  probesMax?: number;
  /** Screening cascade: run the cheapest cases first and stop a candidate at its first failure. */
  cascade?: boolean;
  /** Lock-step mode (one candidate): wait for a `{t: "go"}` frame before each repetition of all cases. */
  stepped?: boolean;
  /** A case's work budget: max(workMin, workFactor × the live version's work on it). */
  workMin: number;
  workFactor: number;
  regression: {
    input: unknown;
    expect?: unknown;
    answers?: boolean;
    avoid?: unknown;
    has_avoid?: boolean;
    properties?: boolean;
    ms_max?: number;
    critical?: boolean;
  }[];
  candidates: Compiled[];
  repeats: number;
  caseMsMax: number;
}

interface Case {
  input: unknown;
  expect?: unknown;
  hasExpect: boolean;
  score?: (output: unknown, input: unknown) => number;
  weight: number;
  critical: boolean;
  regression: boolean;
  /** Work units a counted run may spend on this case before it fails. */
  budget: number;
  /** The live version's work on this case (the cascade runs cheap cases first). */
  liveWork?: number;
  /** A probe: passes when the candidate does what the live version did (same output, or both throw). */
  probe?: { threw: boolean; out: unknown; message?: string };
  /** A regression case without an expected output: it must answer, and pass these checks. */
  answers?: { avoid?: unknown; hasAvoid: boolean; properties: boolean; msMax?: number };
}

/** A general property of the live evals: a `score` function with the floor it must reach. */
interface Property {
  index: number;
  score: (output: unknown, input: unknown) => number;
  floor: number;
}

/** The live evals' general properties, found by {@link findProperties} when a case asks for them. */
let properties: Property[] = [];

/** Thrown by the harness itself (time bound, unsendable output): always a failure, never a behaviour. */
class HarnessError extends Error {}

interface Agent {
  kind: "agent";
  handle: (ctx: unknown) => unknown;
  init?: () => Record<string, unknown>;
  evals: {
    input: unknown;
    expect?: unknown;
    score?: (o: unknown, i: unknown) => number;
    weight?: number;
    critical?: boolean;
  }[];
}

const stdout = Deno.stdout;
const write = stdout.writeSync.bind(stdout);
const exit = Deno.exit;
const now = performance.now.bind(performance);
const clone = structuredClone;
const stringify = JSON.stringify;
const WORK_EXPORT = "__oWork";
const TIMEOUT = Symbol("timeout");
let nonce = "";

function send(msg: Record<string, unknown>): void {
  const frame = encodeFrame({ ...msg, k: nonce });
  let at = 0;
  while (at < frame.length) at += write(frame.subarray(at));
}

/** Frames from the host, in order: the start frame, then (stepped runs) one `go` per repetition. */
class Inbox {
  readonly #decoder = new FrameDecoder();
  readonly #reader = Deno.stdin.readable.getReader();
  #queue: unknown[] = [];

  async next(): Promise<Record<string, unknown> | null> {
    while (this.#queue.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#queue = this.#decoder.push(value);
    }
    return this.#queue.shift() as Record<string, unknown>;
  }
}

const AsyncFunction = (async () => {}).constructor as new (param: string, body: string) => (
  sdk: unknown,
) => Promise<Record<string, unknown>>;
let loadCounter = 0;

/** Instantiates a compiled agent: each call gives a fresh instance with its own top-level bindings. */
async function load(agent: Compiled): Promise<Record<string, unknown>> {
  if (agent.form === "function") return await new AsyncFunction("__oSdk", agent.code)(sdk);
  // A distinct URL per load makes a distinct module instance even for equal sources.
  const url = "data:application/typescript;charset=utf-8," +
    encodeURIComponent(`${agent.code}\n// o-eval ${loadCounter++}\n`);
  return await import(url);
}

function agentOf(mod: Record<string, unknown>): Agent {
  const agent = mod.default as Agent | undefined;
  if (agent?.kind !== "agent") {
    throw new TypeError("the module's default export is not a defineAgent() result");
  }
  return agent;
}

let randomState = 0;
const MEMORY_CLOCK_START_MS = 1_700_000_000_000;
let memoryTicks = 0;

/** Drops console output (agent code must not write into the frame channel) and seeds Math.random. */
function harden(): void {
  for (const level of ["log", "info", "debug", "warn", "error", "trace", "table", "dir"] as const) {
    (console as unknown as Record<string, unknown>)[level] = () => {};
  }
  // mulberry32, reset before every call so a candidate's randomness is reproducible.
  Math.random = () => {
    randomState = (randomState + 0x6d2b79f5) | 0;
    let t = randomState;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function context(input: unknown, state: Record<string, unknown>): unknown {
  const isRecord = typeof input === "object" && input !== null && !Array.isArray(input);
  const noTool = (name: string) => () =>
    Promise.reject(new Error(`Cannot call tool '${name}' during an evaluation`));
  return {
    input,
    arg: (name: string) => isRecord ? (input as Record<string, unknown>)[name] : undefined,
    state,
    // A real, empty block store per call on a deterministic clock, so memory-using code behaves as it
    // does live and two runs of the same code make the same block ids.
    memory: new sdk.MemoryStore({}, () => MEMORY_CLOCK_START_MS + memoryTicks++),
    history: [],
    hasTool: () => false,
    tools: new Proxy({}, { get: (_t, name) => noTool(String(name)) }),
    log: () => {},
    requestId: "eval",
  };
}

/** One call: returns the output (msgpack round-tripped, as a client would see it) and its wall time. */
async function call(agent: Agent, input: unknown, caseMsMax: number): Promise<{ out: unknown; ms: number }> {
  randomState = 0x2545f491;
  memoryTicks = 0;
  const ctx = context(clone(input), agent.init ? agent.init() : {});
  send({ t: "beat" });
  const started = now();
  let out = agent.handle(ctx);
  if (out !== null && typeof (out as Promise<unknown>)?.then === "function") {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise((resolve) => timer = setTimeout(() => resolve(TIMEOUT), caseMsMax));
    out = await Promise.race([out, timeout]);
    clearTimeout(timer);
    if (out === TIMEOUT) throw new HarnessError(`no answer within ${caseMsMax} ms`);
  }
  const ms = now() - started;
  if (ms > caseMsMax) throw new HarnessError(`took ${ms.toFixed(1)} ms, over ${caseMsMax} ms`);
  try {
    return { out: decode(encode(out)), ms };
  } catch (e) {
    throw new HarnessError(`the output cannot be sent: ${errorText(e)}`);
  }
}

/** What a caller sees of an error: its class and message. */
function errorName(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : `thrown: ${String(e)}`;
}

function harnessFailure(e: unknown): boolean {
  return e instanceof HarnessError || (e instanceof RangeError && e.message === "work budget exceeded");
}

/** One call of a case: a probe's throw is an outcome to compare, any other throw a failure. */
async function attempt(
  agent: Agent,
  c: Case,
  caseMsMax: number,
): Promise<{ out: unknown; ms: number; threw: boolean }> {
  if (c.probe === undefined) return { ...(await call(agent, c.input, caseMsMax)), threw: false };
  const started = now();
  try {
    return { ...(await call(agent, c.input, caseMsMax)), threw: false };
  } catch (e) {
    if (harnessFailure(e)) throw e;
    return { out: errorName(e), ms: now() - started, threw: true };
  }
}

function hash(value: unknown): string {
  let text: string;
  try {
    text = stringify(value) ?? "undefined";
  } catch {
    return "unhashable";
  }
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    h1 = Math.imul(h1 ^ text.charCodeAt(i), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ text.charCodeAt(i), 0x5bd1e995) >>> 0;
  }
  return h1.toString(16) + h2.toString(16);
}

function judge(
  c: Case,
  out: unknown,
  threw: boolean,
  ms = 0,
): { pass: boolean; score: number | null; error?: string } {
  if (c.answers !== undefined) return judgeAnswer(c, c.answers, out, ms);
  if (c.probe !== undefined) {
    // Same answer, or the same error (class and message: the caller sees both).
    const same = threw === c.probe.threw && deepEqual(out, c.probe.out);
    return same
      ? { pass: true, score: null }
      : { pass: false, score: null, error: "behaves unlike the live version" };
  }
  if (c.hasExpect) {
    return deepEqual(out, c.expect)
      ? { pass: true, score: null }
      : { pass: false, score: null, error: "output differs from expect" };
  }
  try {
    const s = c.score!(clone(out), clone(c.input));
    return Number.isFinite(s)
      ? { pass: true, score: s }
      : { pass: false, score: null, error: "score is not finite" };
  } catch (e) {
    return { pass: false, score: null, error: `score threw: ${errorText(e)}` };
  }
}

/** Whether a value holds NaN or an infinity anywhere (bounded walk). */
function nonFinite(value: unknown, depth = 0): boolean {
  if (typeof value === "number") return !Number.isFinite(value);
  if (typeof value !== "object" || value === null || depth > 64) return false;
  for (const v of Object.values(value)) if (nonFinite(v, depth + 1)) return true;
  return false;
}

/** A regression case without an expected output (see eval_result.ts `RegressionCase`). */
function judgeAnswer(
  c: Case,
  a: NonNullable<Case["answers"]>,
  out: unknown,
  ms: number,
): { pass: boolean; score: number | null; error?: string } {
  const fail = (error: string) => ({ pass: false, score: null, error });
  if (nonFinite(out) && !nonFinite(c.input)) return fail("the output holds a non-finite number");
  if (a.hasAvoid && deepEqual(out, a.avoid)) return fail("the output is a disliked answer");
  if (a.msMax !== undefined && ms > a.msMax) return fail(`took ${ms.toFixed(1)} ms, over ${a.msMax} ms`);
  if (a.properties) {
    for (const p of properties) {
      let s: number;
      try {
        s = p.score(clone(out), clone(c.input));
      } catch (e) {
        return fail(`property ${p.index} threw: ${errorText(e)}`);
      }
      if (!Number.isFinite(s) || s < p.floor) return fail(`property ${p.index} scored ${s} below ${p.floor}`);
    }
  }
  return { pass: true, score: null };
}

/**
 * The live evals' general properties: a `score` case's function is one when it scores the live
 * version's output on every eval input at least as high as on its own (so it is not tied to one input).
 */
async function findProperties(live: Agent, caseMsMax: number): Promise<Property[]> {
  const outputs: { input: unknown; out: unknown }[] = [];
  for (const e of live.evals) {
    try {
      outputs.push({ input: e.input, out: (await call(live, e.input, caseMsMax)).out });
    } catch {
      // The live version fails its own eval: that input says nothing about generality.
    }
  }
  const found: Property[] = [];
  live.evals.forEach((e, index) => {
    const score = e.score;
    const own = outputs.find((o) => o.input === e.input);
    if (score === undefined || own === undefined) return;
    try {
      const floor = score(clone(own.out), clone(own.input));
      const general = Number.isFinite(floor) &&
        outputs.every((o) => {
          const s = score(clone(o.out), clone(o.input));
          return Number.isFinite(s) && s >= floor;
        });
      if (general) found.push({ index, score, floor });
    } catch {
      // A score function that throws on another eval's output is tied to its own input.
    }
  });
  return found;
}

function errorText(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).slice(0, 500);
}

type WorkMeter = (budget: number) => number;

async function runCase(agent: Agent, work: WorkMeter | null, c: Case, start: Start) {
  const ms: number[] = [];
  let units = 0;
  try {
    let first: unknown;
    let threw = false;
    for (let r = 0; r < start.repeats; r++) {
      work?.(c.budget);
      const res = await attempt(agent, c, start.caseMsMax);
      if (r === 0) {
        first = res.out;
        threw = res.threw;
        units = work?.(c.budget) ?? 0;
      }
      ms.push(res.ms);
    }
    const verdict = judge(c, first, threw, ms[0]);
    return {
      ...verdict,
      ms,
      work: units,
      out: hash(first),
      weight: c.weight,
      critical: c.critical,
      regression: c.regression,
    };
  } catch (e) {
    return {
      pass: false,
      score: null,
      ms,
      work: units,
      out: "error",
      weight: c.weight,
      critical: c.critical,
      regression: c.regression,
      error: errorText(e),
    };
  }
}

/**
 * Every case of one candidate. With the cascade, evals run before probes and cheap cases (by the live
 * version's work) before dear ones, and the first failure ends the candidate: a broken candidate costs
 * its cheapest failing case, not the whole set. Cases not run are failures marked as skipped.
 */
async function runCases(agent: Agent, work: WorkMeter | null, cases: Case[], start: Start) {
  const order = cases.map((c, i) => ({ c, i }));
  if (start.cascade) {
    order.sort((a, b) =>
      Number(a.c.regression) - Number(b.c.regression) || (a.c.liveWork ?? 0) - (b.c.liveWork ?? 0) ||
      a.i - b.i
    );
  }
  const results: Awaited<ReturnType<typeof runCase>>[] = new Array(cases.length);
  let failed = false;
  for (const { c, i } of order) {
    if (failed) {
      results[i] = {
        pass: false,
        score: null,
        ms: [],
        work: 0,
        out: "skipped",
        weight: c.weight,
        critical: c.critical,
        regression: c.regression,
        error: "not run: an earlier case failed",
      };
      continue;
    }
    results[i] = await runCase(agent, work, c, start);
    failed = start.cascade === true && !results[i].pass;
  }
  return results;
}

/**
 * Lock-step repetitions: each `go` frame runs every case once and answers `rep`, so the host can
 * interleave several jails repetition by repetition and expose them to the same machine load.
 */
async function runStepped(agent: Agent, work: WorkMeter | null, cases: Case[], start: Start, inbox: Inbox) {
  const acc = cases.map(() => ({
    ms: [] as number[],
    first: undefined as unknown,
    threw: false,
    units: 0,
    error: null as string | null,
  }));
  for (let r = 0; r < start.repeats; r++) {
    const go = await inbox.next();
    if (go?.t !== "go") break;
    for (let i = 0; i < cases.length; i++) {
      const a = acc[i];
      if (a.error !== null) continue;
      try {
        work?.(cases[i].budget);
        const res = await attempt(agent, cases[i], start.caseMsMax);
        if (r === 0) {
          a.first = res.out;
          a.threw = res.threw;
          a.units = work?.(cases[i].budget) ?? 0;
        }
        a.ms.push(res.ms);
      } catch (e) {
        a.error = errorText(e);
      }
    }
    send({ t: "rep", r });
  }
  return cases.map((c, i) => {
    const a = acc[i];
    const base = {
      ms: a.ms,
      work: a.units,
      weight: c.weight,
      critical: c.critical,
      regression: c.regression,
    };
    if (a.error !== null) return { ...base, pass: false, score: null, out: "error", error: a.error };
    return { ...base, ...judge(c, a.first, a.threw, a.ms[0]), out: hash(a.first) };
  });
}

/** Inputs near the evals' own: each field replaced by an odd value, or missing; odd whole inputs. */
function probeInputs(cases: Case[], max: number): unknown[] {
  const seen = new Set(cases.map((c) => stringify(c.input)));
  const out: unknown[] = [];
  const add = (input: unknown) => {
    const key = stringify(input) ?? "undefined";
    if (out.length < max && !seen.has(key)) {
      seen.add(key);
      out.push(input);
    }
  };
  for (const odd of [null, "x", 0, [], {}]) add(odd);
  for (const c of cases) {
    const input = c.input;
    if (typeof input !== "object" || input === null || Array.isArray(input)) continue;
    for (const key of Object.keys(input)) {
      for (const odd of PROBE_VALUES) add({ ...input, [key]: odd });
      const { [key]: _dropped, ...rest } = input as Record<string, unknown>;
      add(rest);
    }
  }
  return out;
}

const PROBE_VALUES: unknown[] = [null, "x", 0, -1, true, [], {}, [null], ["x"], [[]]];

/**
 * Calibrates the cases against the live version: measures its work per case (its counting copy) to set
 * every case's work budget, and records what it does on probe inputs (odd values near the evals'
 * inputs), which become cases a candidate must answer the same way. Probes guard behaviour the evals
 * do not pin down (input validation, error cases): a candidate that drops a check to save work fails them.
 */
async function calibrate(cases: Case[], liveAgent: Agent, start: Start): Promise<Case[]> {
  let work: WorkMeter | null = null;
  let agent = liveAgent;
  if (start.liveCounted !== null) {
    try {
      const mod = await load(start.liveCounted);
      agent = agentOf(mod);
      if (typeof mod[WORK_EXPORT] === "function") work = mod[WORK_EXPORT] as WorkMeter;
    } catch {
      // Without the live version's counts, budgets fall back to the floor times the factor.
    }
  }
  const cap = start.workMin * start.workFactor;
  const known = await knownFailures(cases, agent, work, cap, start.caseMsMax);
  const probes: Case[] = [];
  for (const input of probeInputs(cases, start.probesMax ?? 0)) {
    const c: Case = { input, hasExpect: false, weight: 1, critical: false, regression: true, budget: cap };
    try {
      work?.(cap);
      const res = await call(agent, input, start.caseMsMax);
      c.probe = { threw: false, out: res.out };
    } catch (e) {
      if (harnessFailure(e)) continue; // The live version itself cannot answer: no yardstick.
      // The live version throws here the way it throws on a known failing input: that is the bug the
      // regression set records, not behaviour to keep.
      if (known.has(errorName(e))) continue;
      c.probe = { threw: true, out: errorName(e) };
    }
    probes.push(c);
  }
  const all = [...cases, ...probes];
  for (const c of all) {
    let live = start.workMin;
    if (work) {
      try {
        work(cap);
        await attempt(agent, c, start.caseMsMax);
        live = work(Infinity);
      } catch {
        // The live version fails this case: keep the floor.
      }
    }
    c.budget = Math.max(start.workMin, start.workFactor * live);
    c.liveWork = live;
  }
  return all;
}

/**
 * How the live version throws on the regression set's `answers` cases (known failures): a probe that
 * throws the same way shows the known bug, not behaviour a candidate must keep.
 */
async function knownFailures(
  cases: Case[],
  agent: Agent,
  work: WorkMeter | null,
  cap: number,
  caseMsMax: number,
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const c of cases) {
    if (c.answers === undefined) continue;
    try {
      work?.(cap);
      await call(agent, c.input, caseMsMax);
    } catch (e) {
      if (!harnessFailure(e)) out.add(errorName(e));
    }
  }
  return out;
}

/** References to shared built-ins: a candidate that replaces one is blamed (a breach). */
function fingerprint(): unknown[] {
  const out: unknown[] = [];
  const roots = [Object, Array, String, Number, Math, JSON, Promise, Map, Set, Reflect, Function];
  for (const root of roots) {
    for (const target of [root, (root as { prototype?: object }).prototype]) {
      if (!target) continue;
      for (const key of Reflect.ownKeys(target)) {
        const d = Object.getOwnPropertyDescriptor(target, key);
        out.push(d?.value ?? d?.get);
      }
    }
  }
  for (const key of Reflect.ownKeys(globalThis)) {
    out.push(Object.getOwnPropertyDescriptor(globalThis, key)?.value);
  }
  return out;
}

function sameFingerprint(a: unknown[], b: unknown[]): boolean {
  return a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
}

function casesOf(live: Agent, start: Start): Case[] {
  const cases: Case[] = live.evals.map((e) => ({
    input: clone(e.input),
    expect: "expect" in e ? clone(e.expect) : undefined,
    hasExpect: "expect" in e,
    score: e.score,
    weight: e.weight ?? 1,
    critical: e.critical ?? false,
    regression: false,
    budget: Infinity,
  }));
  for (const r of start.regression) {
    const answers = r.answers === true
      ? { avoid: r.avoid, hasAvoid: r.has_avoid === true, properties: r.properties === true, msMax: r.ms_max }
      : undefined;
    cases.push({
      input: r.input,
      expect: r.expect,
      hasExpect: answers === undefined,
      weight: 1,
      critical: r.critical ?? true,
      regression: true,
      budget: Infinity,
      answers,
    });
  }
  return cases;
}

async function main(): Promise<void> {
  harden();
  // The frame a started jail writes before it reads anything: the host's warm pool waits for it
  // (evaluator.ts builds the same bytes).
  const READY_FRAME = encodeFrame({ t: "ready" });
  let at = 0;
  while (at < READY_FRAME.length) at += write(READY_FRAME.subarray(at));
  const inbox = new Inbox();
  const start = await inbox.next() as unknown as Start | null;
  if (start === null) throw new Error("stdin closed before the start frame");
  nonce = start.nonce;
  let cases: Case[];
  try {
    const live = agentOf(await load(start.live));
    if (start.regression.some((r) => r.answers === true && r.properties === true)) {
      properties = await findProperties(live, start.caseMsMax);
    }
    cases = await calibrate(casesOf(live, start), live, start);
  } catch (e) {
    send({ t: "fatal", error: `The live version does not load: ${errorText(e)}` });
    return exit(0);
  }
  const baseline = fingerprint();
  for (let i = 0; i < start.candidates.length; i++) {
    send({ t: "begin", i });
    const candidate = start.candidates[i];
    let agent: Agent;
    let work: WorkMeter | null = null;
    try {
      const mod = await load(candidate);
      agent = agentOf(mod);
      if (candidate.counted && typeof mod[WORK_EXPORT] === "function") work = mod[WORK_EXPORT] as WorkMeter;
    } catch (e) {
      send({ t: "result", i, ok: false, error: `Cannot load the candidate: ${errorText(e)}`, cases: [] });
      continue;
    }
    const results = start.stepped
      ? await runStepped(agent, work, cases, start, inbox)
      : await runCases(agent, work, cases, start);
    if (!sameFingerprint(baseline, fingerprint())) {
      send({ t: "breach", i, error: "The candidate changed a shared built-in" });
      return exit(4);
    }
    send({ t: "result", i, ok: true, cases: results });
  }
  send({ t: "done" });
  exit(0);
}

if (import.meta.main) {
  globalThis.addEventListener("unhandledrejection", (e) => e.preventDefault());
  await main();
}
