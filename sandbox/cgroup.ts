/**
 * Per-sandbox control groups: the memory bound on a sandbox's whole process tree (ArrayBuffer, wasm and
 * worker bombs included, which V8's heap cap does not see) and the task bound that stops fork and worker
 * bombs. cgroup v1 (separate `memory` and `pids` hierarchies) and v2 (one unified hierarchy) are both
 * handled; whichever is mounted writable is used. Where neither is, {@link detectCgroups} reports it and the
 * caller falls back to the RSS watchdog (sandbox/watchdog.ts).
 *
 * Why per-sandbox groups under our own group: a limit on our own group would bound the supervisor too, and
 * a group per sandbox gives an exact peak, an exact OOM count and a list of every task to kill.
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";

/** Which controller implementation bounds a resource. */
export type CgroupVersion = 1 | 2;

/** Where per-sandbox groups are created, per resource; `null` when that resource cannot be bounded so. */
export interface CgroupSupport {
  memory: { version: CgroupVersion; parent: string } | null;
  pids: { version: CgroupVersion; parent: string } | null;
}

/**
 * A sandbox's CPU class: `normal` competes like any process; `batch` (evaluations inside a serving
 * supervisor) shares one low weight with every other batch sandbox, so it always progresses but takes
 * little from live work; `background` (shadows) runs only on cycles nothing else wants.
 */
export type CpuClass = "normal" | "batch" | "background";

/** cgroup v1 `cpu.shares` of the one group all batch sandboxes share (a normal group has 1024). */
export const BATCH_CPU_SHARES = 128;

/** What one sandbox's groups bound. */
export interface CgroupBounds {
  /** Memory of the whole tree, bytes (tmpfs pages included). */
  memoryBytes: number;
  /** Tasks (processes and threads); 0 leaves tasks unbounded. */
  tasksMax: number;
  /** CPU class (v2: set on the sandbox's own group; v1: see {@link cpuClassGroup}). @default "normal" */
  cpu?: CpuClass;
}

const PARENT_NAME = "o-sandboxes";
/** The cgroup v1 `cpu` groups every background / batch sandbox shares. */
const CLASS_GROUPS = { background: "o-background", batch: "o-batch" } as const;
let support: CgroupSupport | undefined;
const classGroups = new Map<"background" | "batch", string | null>();
let groupCounter = 0;
let cgroupsEnabled = true;

/**
 * Turns per-sandbox cgroups off (or back on) for sandboxes spawned from now on, so the RSS watchdog
 * bounds memory instead. For tests of the fallback and for hosts whose cgroups misbehave; the environment
 * variable `O_SANDBOX_CGROUPS=off` does the same at start.
 *
 * @param enabled Whether cgroups may be used.
 */
export function setCgroupsEnabled(enabled: boolean): void {
  cgroupsEnabled = enabled;
  support = undefined;
  classGroups.clear();
}

/**
 * Makes a group idle-class (`cpu.idle = 1`, Linux 5.15+: the scheduler preempts its tasks at once for any
 * other task's wakeup and gives them the least weight), or, on older kernels, the least weight there is.
 */
function makeIdle(dir: string, version: CgroupVersion): boolean {
  return trySet(`${dir}/cpu.idle`, "1") ||
    trySet(`${dir}/${version === 1 ? "cpu.shares" : "cpu.weight"}`, version === 1 ? "2" : "1");
}

/**
 * The `cgroup.procs` file of the shared cgroup v1 `cpu` group of a class (see {@link CpuClass}), made
 * under our own `cpu` group on first use: idle for `background`, {@link BATCH_CPU_SHARES} for `batch`.
 * Why a group and not niceness: bubblewrap's `--new-session` gives every jail its own autogroup, and the
 * scheduler shares the CPU between autogroups equally whatever their tasks' niceness, so 100 niced shadows
 * got 100 shares to the live sandbox's one (measured: live p50 0.3 → 141 ms). Tasks in a non-root cpu
 * group are not autogrouped.
 *
 * @returns The file, or `null` on cgroup v2 (set per sandbox instead) or where no `cpu` group is writable.
 */
export function cpuClassGroup(cls: "background" | "batch"): string | null {
  const known = classGroups.get(cls);
  if (known !== undefined) return known;
  classGroups.set(cls, null);
  if (!cgroupsEnabled || Deno.env.get("O_SANDBOX_CGROUPS") === "off") return null;
  try {
    const mount = readMounts().find((m) => m.fsType === "cgroup" && m.options.includes("cpu"));
    const path = ownGroups().get("cpu");
    if (!mount || path === undefined) return null;
    const dir = `${mount.mountPoint}${path === "/" ? "" : path}/${CLASS_GROUPS[cls]}`;
    Deno.mkdirSync(dir, { recursive: true });
    const set = cls === "background"
      ? makeIdle(dir, 1)
      : trySet(`${dir}/cpu.shares`, String(BATCH_CPU_SHARES));
    if (set) classGroups.set(cls, `${dir}/cgroup.procs`);
  } catch {
    // Read-only or missing hierarchy: the sandboxes run at their niceness only.
  }
  return classGroups.get(cls) ?? null;
}

function trySet(file: string, value: string): boolean {
  try {
    Deno.writeTextFileSync(file, value);
    return true;
  } catch {
    return false;
  }
}

interface Mount {
  fsType: string;
  mountPoint: string;
  options: string[];
}

function readMounts(): Mount[] {
  const text = Deno.readTextFileSync("/proc/self/mountinfo");
  const mounts: Mount[] = [];
  for (const line of text.split("\n")) {
    const dash = line.indexOf(" - ");
    if (dash < 0) continue;
    const left = line.slice(0, dash).split(" ");
    const right = line.slice(dash + 3).split(" ");
    mounts.push({ fsType: right[0], mountPoint: left[4], options: (right[2] ?? "").split(",") });
  }
  return mounts;
}

/** Our own group per v1 controller (`memory`, `pids`) and the v2 path (key `""`), from /proc/self/cgroup. */
function ownGroups(): Map<string, string> {
  const groups = new Map<string, string>();
  for (const line of Deno.readTextFileSync("/proc/self/cgroup").split("\n")) {
    const [, controllers, path] = line.split(":");
    if (path === undefined) continue;
    for (const c of controllers.split(",")) groups.set(c, path);
  }
  return groups;
}

/** Creates (or reuses) `dir` and proves a child group can be made and removed in it. */
function probeParent(dir: string): boolean {
  try {
    Deno.mkdirSync(dir, { recursive: true });
    const probe = `${dir}/probe-${Deno.pid}`;
    Deno.mkdirSync(probe);
    Deno.removeSync(probe);
    return true;
  } catch {
    return false;
  }
}

function detectV1(mounts: Mount[], own: Map<string, string>, controller: string) {
  const mount = mounts.find((m) => m.fsType === "cgroup" && m.options.includes(controller));
  const path = own.get(controller);
  if (!mount || path === undefined) return null;
  const parent = `${mount.mountPoint}${path === "/" ? "" : path}/${PARENT_NAME}`;
  return probeParent(parent) ? { version: 1 as const, parent } : null;
}

function detectV2(mounts: Mount[], own: Map<string, string>, controller: string) {
  const mount = mounts.find((m) => m.fsType === "cgroup2");
  const path = own.get("");
  if (!mount || path === undefined) return null;
  const base = `${mount.mountPoint}${path === "/" ? "" : path}`;
  try {
    const available = Deno.readTextFileSync(`${base}/cgroup.controllers`).trim().split(/\s+/);
    if (!available.includes(controller)) return null;
    // v2 forbids processes in a group that distributes controllers, so the parent must already delegate
    // (systemd `Delegate=yes`) or be enabled here; enabling fails with EBUSY if our own group holds us.
    const parent = `${base}/${PARENT_NAME}`;
    if (!probeParent(parent)) return null;
    const enabled = Deno.readTextFileSync(`${base}/cgroup.subtree_control`).split(/\s+/);
    if (!enabled.includes(controller)) {
      Deno.writeTextFileSync(`${base}/cgroup.subtree_control`, `+${controller}`);
    }
    const inner = Deno.readTextFileSync(`${parent}/cgroup.subtree_control`).split(/\s+/);
    if (!inner.includes(controller)) {
      Deno.writeTextFileSync(`${parent}/cgroup.subtree_control`, `+${controller}`);
    }
    return { version: 2 as const, parent };
  } catch {
    return null;
  }
}

/**
 * Finds where this process may create per-sandbox memory and pids groups. Probed once, then cached.
 *
 * @returns The parents per resource, or `null` for a resource no writable controller bounds.
 */
export function detectCgroups(): CgroupSupport {
  if (support) return support;
  if (!cgroupsEnabled || Deno.env.get("O_SANDBOX_CGROUPS") === "off") {
    support = { memory: null, pids: null };
    return support;
  }
  let mounts: Mount[] = [];
  let own = new Map<string, string>();
  try {
    mounts = readMounts();
    own = ownGroups();
  } catch {
    // No /proc: no cgroups either.
  }
  support = {
    memory: detectV1(mounts, own, "memory") ?? detectV2(mounts, own, "memory"),
    pids: detectV1(mounts, own, "pids") ?? detectV2(mounts, own, "pids"),
  };
  for (const s of [support.memory, support.pids]) if (s) removeStaleGroups(s.parent);
  return support;
}

/** Removes empty groups left by a supervisor that died before cleaning up (rmdir fails on live ones). */
function removeStaleGroups(parent: string): void {
  try {
    for (const entry of Deno.readDirSync(parent)) {
      if (!entry.isDirectory || !entry.name.startsWith("sbx-")) continue;
      const owner = Number(entry.name.split("-")[1]);
      if (owner === Deno.pid || isAlive(owner)) continue;
      try {
        Deno.removeSync(`${parent}/${entry.name}`);
      } catch {
        // Still populated (its sandbox outlived its supervisor) or already gone.
      }
    }
  } catch {
    // Unreadable parent: nothing to clean.
  }
}

function isAlive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

function readNumber(path: string): number {
  try {
    return Number(Deno.readTextFileSync(path).trim());
  } catch {
    return 0;
  }
}

function readKeyed(path: string, key: string): number {
  try {
    for (const line of Deno.readTextFileSync(path).split("\n")) {
      const [k, v] = line.split(" ");
      if (k === key) return Number(v);
    }
  } catch {
    // Missing file: the counter is unknown, report none.
  }
  return 0;
}

/** One sandbox's memory and pids groups. Create with {@link SandboxCgroup.create}; remove after exit. */
export class SandboxCgroup {
  readonly #memory: { version: CgroupVersion; dir: string } | null;
  readonly #pids: { version: CgroupVersion; dir: string } | null;

  /** Wraps existing groups; use {@link SandboxCgroup.create} to make them. */
  constructor(
    memory: { version: CgroupVersion; dir: string } | null,
    pids: { version: CgroupVersion; dir: string } | null,
  ) {
    this.#memory = memory;
    this.#pids = pids;
  }

  /**
   * Creates the groups for one sandbox and sets their bounds.
   *
   * @returns The groups, or `null` when no writable memory controller exists (use the watchdog).
   */
  static create(bounds: CgroupBounds): SandboxCgroup | null {
    assert(bounds.memoryBytes > 0, "A sandbox memory bound must be positive");
    const found = detectCgroups();
    if (!found.memory) return null;
    // The counter is per module instance: a Worker thread has its own, so a random part keeps names apart.
    const name = `sbx-${Deno.pid}-${++groupCounter}-${crypto.randomUUID().slice(0, 8)}`;
    const memory = { version: found.memory.version, dir: `${found.memory.parent}/${name}` };
    const samePids = found.pids && found.pids.version === 2 && found.pids.parent === found.memory.parent;
    const pids = found.pids
      ? { version: found.pids.version, dir: samePids ? memory.dir : `${found.pids.parent}/${name}` }
      : null;
    try {
      Deno.mkdirSync(memory.dir);
      setMemoryBound(memory.version, memory.dir, bounds.memoryBytes);
      if (pids && !samePids) Deno.mkdirSync(pids.dir);
      if (pids && bounds.tasksMax > 0) {
        Deno.writeTextFileSync(`${pids.dir}/pids.max`, String(bounds.tasksMax));
      }
      if (bounds.cpu && bounds.cpu !== "normal" && memory.version === 2) {
        classV2(found.memory.parent, memory.dir, bounds.cpu);
      }
    } catch (e) {
      for (const dir of [memory.dir, pids?.dir]) if (dir) tryRemove(dir);
      throw e;
    }
    return new SandboxCgroup(memory, pids);
  }

  /** `cgroup.procs` files a starting process writes its own pid into, before it execs the sandbox. */
  get procsFiles(): string[] {
    const files = [`${this.#memory!.dir}/cgroup.procs`];
    if (this.#pids && this.#pids.dir !== this.#memory!.dir) files.push(`${this.#pids.dir}/cgroup.procs`);
    return files;
  }

  /** Whether the pids controller bounds this sandbox's tasks. */
  get boundsTasks(): boolean {
    return this.#pids !== null;
  }

  /** Pids of every process still in the sandbox's memory group. */
  pids(): number[] {
    try {
      const text = Deno.readTextFileSync(`${this.#memory!.dir}/cgroup.procs`).trim();
      return text === "" ? [] : text.split("\n").map(Number);
    } catch {
      return [];
    }
  }

  /** SIGKILLs every process in the group (v2: atomically through `cgroup.kill` where the kernel has it). */
  killAll(): void {
    const m = this.#memory!;
    if (m.version === 2) {
      try {
        Deno.writeTextFileSync(`${m.dir}/cgroup.kill`, "1");
        return;
      } catch {
        // Kernel before 5.14: fall through to killing pid by pid.
      }
    }
    for (const pid of this.pids()) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }

  /** How many times the kernel's OOM killer fired inside this group. */
  oomKills(): number {
    const m = this.#memory!;
    if (m.version === 1) return readKeyed(`${m.dir}/memory.oom_control`, "oom_kill");
    return readKeyed(`${m.dir}/memory.events`, "oom_kill");
  }

  /** Peak memory of the group so far, bytes (0 where the kernel does not track it). */
  memoryPeakBytes(): number {
    const m = this.#memory!;
    return readNumber(m.version === 1 ? `${m.dir}/memory.max_usage_in_bytes` : `${m.dir}/memory.peak`);
  }

  /** Removes the groups; `false` while a process still lives in one (call {@link killAll} first). */
  remove(): boolean {
    let removed = tryRemove(this.#memory!.dir);
    if (this.#pids && this.#pids.dir !== this.#memory!.dir) removed = tryRemove(this.#pids.dir) && removed;
    return removed;
  }
}

/** cgroup v2: turns the `cpu` controller on for the sandbox groups (once) and sets this group's class. */
function classV2(parent: string, dir: string, cls: "background" | "batch"): void {
  try {
    for (const group of [parent.slice(0, parent.lastIndexOf("/")), parent]) {
      const enabled = Deno.readTextFileSync(`${group}/cgroup.subtree_control`).split(/\s+/);
      if (!enabled.includes("cpu")) Deno.writeTextFileSync(`${group}/cgroup.subtree_control`, "+cpu");
    }
    // v2 weights run 1–10000 with 100 for a normal group: the batch share scaled like v1's 1024.
    if (cls === "background") makeIdle(dir, 2);
    else trySet(`${dir}/cpu.weight`, String(Math.max(1, Math.round((BATCH_CPU_SHARES / 1024) * 100))));
  } catch {
    // No cpu controller delegated to us: the sandbox runs at its niceness only.
  }
}

function setMemoryBound(version: CgroupVersion, dir: string, bytes: number): void {
  if (version === 1) {
    Deno.writeTextFileSync(`${dir}/memory.limit_in_bytes`, String(bytes));
    try {
      // With swap, memory+swap must be bounded too, or a bomb swaps instead of dying.
      Deno.writeTextFileSync(`${dir}/memory.memsw.limit_in_bytes`, String(bytes));
    } catch {
      // No swap accounting in this kernel: nothing to bound.
    }
    return;
  }
  Deno.writeTextFileSync(`${dir}/memory.max`, String(bytes));
  try {
    Deno.writeTextFileSync(`${dir}/memory.swap.max`, "0");
  } catch {
    // No swap controller: nothing to bound.
  }
}

function tryRemove(dir: string): boolean {
  try {
    Deno.removeSync(dir);
    return true;
  } catch (e) {
    return e instanceof Deno.errors.NotFound;
  }
}
