/**
 * Agent crash recovery: SIGKILL the live sandbox, time until an invoke is answered again. With the warm
 * standby (a started sandbox waiting for code) against a cold restart (spawn, then load), same run.
 *
 * @module
 */
import { join } from "node:path";
import { parseStartOptions, type StartOptions, startServer } from "../supervisor/mod.ts";
import { type Figure, percentile } from "./_util.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** Restart intensity allows 5 restarts in 10 s: space the kills out. */
const KILL_SPACING_MS = 2_100;

async function measure(cold: boolean, kills: number): Promise<number[]> {
  const data = await Deno.makeTempDir({ prefix: "o-bench-recovery-" });
  const args = [
    "--port",
    "0",
    "--data",
    data,
    "--agents",
    join(ROOT, "bench", "agents"),
    "--log-level",
    "error",
  ];
  if (cold) args.push("--cold-restarts");
  const opts = parseStartOptions(args) as StartOptions;
  const running = await startServer(opts);
  const host = running.supervisor.get("kv");
  const samples: number[] = [];
  try {
    await host.invoke({ set: "k", value: 0 }, { requestId: "warm" });
    for (let i = 0; i < kills; i++) {
      await new Promise((r) => setTimeout(r, KILL_SPACING_MS));
      const pid = host.pid;
      if (pid === undefined) throw new Error("no live sandbox to kill");
      const started = performance.now();
      Deno.kill(pid, "SIGKILL");
      for (;;) {
        try {
          await host.invoke({ set: "k", value: i }, { requestId: `r${i}` });
          if (host.restarts === i + 1) break;
        } catch {
          await new Promise((r) => setTimeout(r, 0));
        }
      }
      samples.push(performance.now() - started);
    }
  } finally {
    await running.shutdown();
    await Deno.remove(data, { recursive: true }).catch(() => {});
  }
  return samples;
}

/** Runs the section. */
export async function benchRecovery(quick: boolean): Promise<Figure[]> {
  const kills = quick ? 3 : 5;
  const warm = await measure(false, kills);
  const cold = await measure(true, kills);
  const warmP50 = percentile(warm, 50);
  return [{
    section: "recovery",
    name: "agent crash → serving again (p50)",
    value: warmP50,
    unit: "ms",
    baseline: percentile(cold, 50),
    baselineName: "cold restart",
    goal: "< 20 ms (seed 100 ms)",
    met: warmP50 < 20,
  }];
}
