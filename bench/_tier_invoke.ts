/**
 * One invoke's round trip through an in-process Supervisor (frame to the sandbox, the agent's answer, the
 * frame back; no HTTP, no WAL record: the agent is stateless), per sandbox tier: what the jail costs on
 * the invoke path, and what the worker tier's extra hop (host process → Worker) costs.
 *
 * @module
 */
import type { Tier } from "../sandbox/mod.ts";
import { localSupervisor } from "../tests/_supervisor.ts";
import { FLEET_AGENT } from "../tests/stress_fleet.ts";

/** Median round trip per tier, µs. */
export async function tierInvokeUs(quick: boolean): Promise<Record<Tier, number>> {
  const n = quick ? 1_000 : 3_000;
  const out = {} as Record<Tier, number>;
  for (const tier of ["worker", "process", "jail"] as const) {
    const local = await localSupervisor({ tier, prefix: "o-bench-tier-" });
    try {
      const live = await local.supervisor.register(FLEET_AGENT, "dir");
      for (let i = 0; i < 500; i++) await live.invoke({ n: i }, { requestId: `warm-${i}` });
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        await live.invoke({ n: i }, { requestId: `t-${i}` });
        times.push(performance.now() - started);
      }
      times.sort((a, b) => a - b);
      out[tier] = Math.round(times[times.length >> 1] * 1000);
    } finally {
      await local.close();
    }
  }
  return out;
}
