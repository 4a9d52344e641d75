/**
 * One invoke's round trip through an in-process Supervisor (frame to the sandbox, the agent's answer, the
 * frame back; no HTTP, no WAL record: the agent is stateless), per sandbox tier: what the jail costs on
 * the invoke path, and what the worker tier's extra hop (host process → Worker) costs.
 *
 * @module
 */
import { Logger } from "../observability/mod.ts";
import type { Tier } from "../sandbox/mod.ts";
import { openVault } from "../vault/mod.ts";
import { Supervisor, SupervisorMetrics } from "../supervisor/mod.ts";
import { FLEET_AGENT } from "../tests/stress_fleet.ts";

/** Median round trip per tier, µs. */
export async function tierInvokeUs(quick: boolean): Promise<Record<Tier, number>> {
  const n = quick ? 1_000 : 3_000;
  const out = {} as Record<Tier, number>;
  for (const tier of ["worker", "process", "jail"] as const) {
    const dataDir = await Deno.makeTempDir({ prefix: "o-bench-tier-" });
    const vault = await openVault({ dataDir });
    const supervisor = new Supervisor({
      dataDir,
      vault,
      log: new Logger({ console: false, level: "error" }),
      metrics: new SupervisorMetrics(),
      tier,
    });
    try {
      const live = await supervisor.register(FLEET_AGENT, "dir");
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
      await supervisor.stop(200);
      await vault.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  }
  return out;
}
