/**
 * The sandbox's figures: cold start, start from the warm pool, kill latency, and the jail's cost over
 * the plain process tier, from `benchSandbox()`.
 *
 * @module
 */
import { benchSandbox } from "../sandbox/mod.ts";
import type { Figure } from "./_util.ts";

/** Runs the section. */
export async function sandboxSection(quick: boolean): Promise<Figure[]> {
  const s = await benchSandbox({ samples: quick ? 5 : 15 });
  const section = "sandbox";
  return [
    {
      section,
      name: "shadow spawn, cold (jail)",
      value: s.coldStartMs,
      unit: "ms",
      baseline: s.coldStartMs - s.jailOverheadMs,
      baselineName: "process tier",
      goal: "< 50 ms (seed 500 ms)",
      met: s.coldStartMs < 50,
    },
    {
      section,
      name: "shadow spawn, from the warm pool",
      value: s.pooledStartMs,
      unit: "ms",
      baseline: s.coldStartMs,
      baselineName: "cold",
      goal: "< 5 ms",
      met: s.pooledStartMs < 5,
    },
    { section, name: "kill → reaped", value: s.killMs, unit: "ms", goal: "≈ 3 ms", met: s.killMs < 10 },
  ];
}
