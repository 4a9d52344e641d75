/**
 * Finding processes a sandbox left behind: every sandbox the audit and the tests start carries a unique
 * tag on its command line, so /proc tells whether any process of it outlived its run.
 *
 * @module
 */

/**
 * Lists processes whose command line contains `tag`.
 *
 * @param tag A marker unique to one sandbox (passed as its entry's argument).
 * @returns Their pids; empty when none is left.
 */
export function leftoverPids(tag: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(tag)) found.push(Number(entry.name));
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}
