/**
 * The sandbox's figures: cold start, start from the warm pool, kill latency, and the jail's cost over
 * the plain process tier, from `benchSandbox()`; the invoke round trip per tier; and what a per-frame hop
 * between a host thread and the Worker would cost by postMessage and by shared memory (the O V2 plan's
 * SharedArrayBuffer channel). Not built: the worker tier's Worker reads and writes the process's pipes
 * itself, so there is no inner hop to speed up, and either hop would cost more than the tier's whole
 * overhead over the process tier.
 *
 * @module
 */
import { benchSandbox } from "../sandbox/mod.ts";
import type { Figure } from "./_util.ts";
import { tierInvokeUs } from "./_tier_invoke.ts";
import { workerHop } from "./_worker_hop.ts";

/** Runs the section. */
export async function sandboxSection(quick: boolean): Promise<Figure[]> {
  const s = await benchSandbox({ samples: quick ? 5 : 15 });
  const tiers = await tierInvokeUs(quick);
  const hop = await workerHop(quick);
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
    {
      section,
      name: "invoke round trip, jail tier (in-process supervisor, stateless agent)",
      value: tiers.jail,
      unit: "µs",
      baseline: tiers.process,
      baselineName: "process tier",
      goal: "≈ 1× (the jail costs nothing per invoke)",
      met: tiers.jail <= 1.2 * tiers.process,
    },
    {
      section,
      name: "invoke round trip, worker tier",
      value: tiers.worker,
      unit: "µs",
      baseline: tiers.process,
      baselineName: "process tier",
      goal: "report (its Worker reads and writes the pipes itself: no inner hop)",
    },
    {
      section,
      name: "a host-thread ↔ Worker hop per frame, through SharedArrayBuffer + Atomics",
      value: Math.round(hop.sharedMemoryUs),
      unit: "µs",
      baseline: Math.round(hop.postMessageUs),
      baselineName: "postMessage",
      goal: "not built: either hop costs more than the whole worker-tier overhead above",
    },
  ];
}
