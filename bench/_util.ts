/**
 * Benchmark helpers: percentiles, machine facts, the result table.
 *
 * @module
 */
import { rssBytes } from "../observability/mod.ts";

/** One measured figure, with its same-run baseline when there is one. */
export interface Figure {
  section: string;
  name: string;
  value: number;
  unit: string;
  /** The baseline measured in the same run, same unit. */
  baseline?: number;
  baselineName?: string;
  /** Human text of the goal, e.g. "≤ 3× baseline". */
  goal: string;
  /** Whether the goal is met (undefined when there is no goal to check). */
  met?: boolean;
}

/** The p-th percentile (0..100) of samples, by nearest rank. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

/** Facts about where the numbers came from. */
export function machine(): Record<string, string | number> {
  let cpu = "unknown";
  try {
    cpu = /model name\s*:\s*(.*)/.exec(Deno.readTextFileSync("/proc/cpuinfo"))?.[1] ?? cpu;
  } catch { /* not Linux */ }
  return {
    cpu,
    cores: navigator.hardwareConcurrency,
    memory_gib: Math.round(Deno.systemMemoryInfo().total / 2 ** 30),
    os: `${Deno.build.os} ${Deno.osRelease()}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    date: new Date().toISOString(),
  };
}

/** Rounds for display. */
export function fmt(n: number | undefined): string {
  if (n === undefined || Number.isNaN(n)) return "–";
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** The markdown table of figures. */
export function table(figures: Figure[]): string {
  const lines = [
    "| section | figure | O | baseline | ratio | goal | met |",
    "|---|---|---|---|---|---|---|",
  ];
  for (const f of figures) {
    const ratio = f.baseline !== undefined && f.baseline !== 0 ? `${fmt(f.value / f.baseline)}×` : "–";
    const base = f.baseline !== undefined
      ? `${fmt(f.baseline)} ${f.unit} (${f.baselineName ?? "baseline"})`
      : "–";
    const met = f.met === undefined ? "–" : f.met ? "yes" : "**no**";
    lines.push(
      `| ${f.section} | ${f.name} | ${fmt(f.value)} ${f.unit} | ${base} | ${ratio} | ${f.goal} | ${met} |`,
    );
  }
  return lines.join("\n");
}

/** Sum of VmRSS of the given processes, bytes. */
export function treeRssBytes(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + rssBytes(pid), 0);
}
