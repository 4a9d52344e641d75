/**
 * Process trees from /proc: children by parent, descendants, and the resident memory of a tree. Used by
 * the HealthMonitor, the benchmarks and the tests.
 *
 * @module
 */

/** Every live process's children, by parent pid (one scan of /proc). */
export function processChildren(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry.name));
      children.set(ppid, list);
    } catch { /* exited meanwhile */ }
  }
  return children;
}

/** Every live descendant of `pid`, not counting `pid` itself. */
export function descendants(pid: number, children: Map<number, number[]> = processChildren()): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    for (const c of children.get(stack.pop()!) ?? []) (out.push(c), stack.push(c));
  }
  return out;
}

/** VmRSS of one process, bytes (0 when it is gone). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Sum of VmRSS of each process and its descendants, bytes (null for one that is gone). One /proc scan. */
export function processTreeRss(pids: readonly number[]): Map<number, number | null> {
  const children = processChildren();
  const out = new Map<number, number | null>();
  for (const pid of pids) {
    const tree = [pid, ...descendants(pid, children)];
    const total = tree.reduce((sum, p) => sum + rssBytes(p), 0);
    out.set(pid, total > 0 ? total : null);
  }
  return out;
}
