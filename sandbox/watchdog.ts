/**
 * The RSS watchdog: the memory (and task) bound of last resort where no memory cgroup is writable. Deno
 * segfaults at start under any finite RLIMIT_AS or RLIMIT_DATA, so an rlimit cannot stand in; instead the
 * sandbox's process tree is sampled every {@link WATCHDOG_SAMPLE_MS} and SIGKILLed once its resident memory
 * passes the bound.
 *
 * Weaker than a cgroup, and said so: a process that touches memory faster than ~1 GiB per sample interval
 * can overshoot the bound by that much before it dies, and the tree is walked through each process's main
 * thread's `children` list (a child forked from another thread is missed; Deno without `--allow-run`
 * forks none).
 *
 * @module
 */
import { assert } from "../protocol/mod.ts";
import { WATCHDOG_SAMPLE_MS } from "./limits.ts";

/** What the watchdog bounds. */
export interface WatchdogBounds {
  /** Resident memory of the whole tree, bytes. */
  memoryBytes: number;
  /** Threads of the whole tree; 0 leaves them unbounded. */
  tasksMax: number;
}

/** A running watchdog. */
export interface Watchdog {
  /** Stops sampling. Idempotent. */
  stop(): void;
  /** The largest tree RSS sampled, bytes. */
  peakBytes(): number;
}

// Linux x86_64 and aarch64 (4 KiB pages, the common configuration); statm counts pages.
const PAGE_BYTES = 4096;
const TREE_PROCESSES_MAX = 4096;

/** One sample of a process tree. */
export interface TreeSample {
  pids: number[];
  rssBytes: number;
  threads: number;
}

/**
 * Samples the tree rooted at `rootPid`: every descendant reachable through main-thread `children` lists.
 *
 * @returns The pids, their summed RSS and thread count (an empty tree once the root is gone).
 */
export function sampleTree(rootPid: number): TreeSample {
  const sample: TreeSample = { pids: [], rssBytes: 0, threads: 0 };
  const queue = [rootPid];
  while (queue.length > 0 && sample.pids.length < TREE_PROCESSES_MAX) {
    const pid = queue.shift()!;
    try {
      const statm = Deno.readTextFileSync(`/proc/${pid}/statm`).split(" ");
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      // Fields after the parenthesised command name; num_threads is field 20 overall.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      sample.pids.push(pid);
      sample.rssBytes += Number(statm[1]) * PAGE_BYTES;
      sample.threads += Number(fields[17]);
      const children = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim();
      if (children !== "") queue.push(...children.split(" ").map(Number));
    } catch {
      // The process exited between listing and reading: it holds no memory any more.
    }
  }
  return sample;
}

/**
 * Starts sampling `rootPid`'s tree; calls `onBreach` once when a bound is passed, then stops.
 *
 * @param rootPid The sandbox's top process.
 * @param bounds Memory and thread bounds.
 * @param onBreach Kills the sandbox; told which bound broke.
 * @returns The running watchdog.
 */
export function startRssWatchdog(
  rootPid: number,
  bounds: WatchdogBounds,
  onBreach: (what: "memory" | "tasks") => void,
): Watchdog {
  assert(bounds.memoryBytes > 0, "A watchdog memory bound must be positive");
  assert(rootPid > 0, "A watchdog needs a process to watch");
  let peak = 0;
  let stopped = false;
  const tick = () => {
    if (stopped) return;
    const s = sampleTree(rootPid);
    peak = Math.max(peak, s.rssBytes);
    if (s.rssBytes > bounds.memoryBytes) breach("memory");
    else if (bounds.tasksMax > 0 && s.threads > bounds.tasksMax) breach("tasks");
  };
  const breach = (what: "memory" | "tasks") => {
    stop();
    onBreach(what);
  };
  const timer = setInterval(tick, WATCHDOG_SAMPLE_MS);
  const stop = () => {
    stopped = true;
    clearInterval(timer);
  };
  return { stop, peakBytes: () => peak };
}
