/**
 * Shadows at scale: the live agent's invoke latency while 0, 10 and 100 shadows mirror its traffic (every
 * live answer copied to every shadow), in one in-process Supervisor with real jailed sandboxes and the
 * shadow thread.
 *
 * Method: live invokes at a fixed rate (open loop), measured from send to answer. Ten shadows are started
 * and left to settle; then short blocks with mirroring off (0 shadows mirroring: the splitter has none)
 * and on (10) alternate for several rounds, so a drift in the machine's load weighs on both alike; the
 * same again after 90 more shadows are started (100). Each level's samples from all its blocks are
 * pooled. Starting shadows is measured apart (a cold start runs a jail, the pool refills behind it): the
 * goal is about what mirroring costs live traffic. The goal (DESIGN.md): with 10 shadows, live p99 within
 * 15 % of no shadows; with 100, live keeps answering every request.
 *
 * @module
 */
import { drive, type Fleet, shadowRss, startFleet } from "../tests/stress_fleet.ts";
import { type Figure, percentile } from "./_util.ts";

const RATE_PER_S = 100;
/** Rounds of mirroring off and on, per shadow count. */
const ROUNDS_QUICK = 3;
const ROUNDS_FULL = 8;
const SANDBOX_MEMORY_MB = 128;
/** Shadows started one at a time from the warm pool, for the pooled start figure. */
const POOLED_STARTS = 7;
/** Time for started shadows to settle (JIT, the pool refilling behind them), ms. */
const SETTLE_MS = 3_000;

function mirroring(fleet: Fleet, on: boolean): void {
  for (const s of fleet.shadows) {
    if (on) fleet.supervisor.splitter.add(s);
    else fleet.supervisor.splitter.remove(s.spec.agent, s.spec.id);
  }
}

/** Runs the section. */
export async function shadowsSection(quick: boolean): Promise<Figure[]> {
  const blockMs = quick ? 1_000 : 1_500;
  const rounds = quick ? ROUNDS_QUICK : ROUNDS_FULL;
  const fleet = await startFleet({ memoryMb: SANDBOX_MEMORY_MB });
  // Samples per block kind: "10" and "100" mirroring, "0@10" and "0@100" the off blocks beside them.
  const samples = new Map<string, number[]>();
  const errors = new Map<string, number>();
  let startMsPerShadow = 0;
  const pooledStarts: number[] = [];
  let rssPerShadow = 0;
  const block = async (key: string, on: boolean) => {
    mirroring(fleet, on);
    const report = await drive(fleet.live, RATE_PER_S, blockMs);
    samples.set(key, [...samples.get(key) ?? [], ...report.latenciesMs]);
    errors.set(key, (errors.get(key) ?? 0) + report.errors.length + report.wrong);
  };
  try {
    await drive(fleet.live, RATE_PER_S, 1_000); // Warm the live path (JIT, frames, WAL).
    for (const level of [10, 100]) {
      const started = performance.now();
      const before = fleet.shadows.length;
      await fleet.addShadows(level - before, { concurrency: 4 });
      if (level === 100) {
        startMsPerShadow = (performance.now() - started) / (level - before);
        const rss = shadowRss(fleet.shadows);
        rssPerShadow = rss.reduce((a, b) => a + b, 0) / rss.length / 2 ** 20;
      }
      await new Promise((r) => setTimeout(r, SETTLE_MS));
      if (level === 10) {
        // One shadow at a time from the shadow thread's warm pool (refilled in between): take → code
        // loaded → ready, then stopped again.
        for (let i = 0; i < POOLED_STARTS; i++) {
          const started = performance.now();
          await fleet.addShadows(1);
          pooledStarts.push(performance.now() - started);
          await fleet.removeShadows(1);
          await new Promise((r) => setTimeout(r, 300));
        }
      }
      for (let i = 0; i < rounds; i++) {
        await block(`0@${level}`, false);
        await block(String(level), true);
      }
    }
  } finally {
    await fleet.stop();
  }
  const p = (key: string, q: number) => Math.round(percentile(samples.get(key)!, q) * 1000) / 1000;
  const base99 = p("0@10", 99);
  const section = `shadows (live invoke at ${RATE_PER_S} req/s, in-process, shadow thread)`;
  const figures: Figure[] = [
    {
      section,
      name: "live p99, no shadows mirroring",
      value: base99,
      unit: "ms",
      goal: "baseline",
    },
    {
      section,
      name: "live p99, 10 shadows mirroring",
      value: p("10", 99),
      unit: "ms",
      baseline: base99,
      baselineName: "no shadows",
      goal: "≤ 1.15× no shadows",
      met: p("10", 99) <= 1.15 * base99,
    },
    {
      section,
      name: "live p99, 100 shadows mirroring",
      value: p("100", 99),
      unit: "ms",
      baseline: p("0@100", 99),
      baselineName: "100 started, none mirroring",
      goal: "every request answered",
      met: (errors.get("100") ?? 0) === 0,
    },
    {
      section,
      name: "live p50, 100 shadows mirroring",
      value: p("100", 50),
      unit: "ms",
      baseline: p("0@100", 50),
      baselineName: "100 started, none mirroring",
      goal: "–",
    },
    {
      section,
      name: "live errors at 0/10/100 shadows",
      value: [...errors.values()].reduce((a, b) => a + b, 0),
      unit: "",
      goal: "0",
      met: [...errors.values()].every((n) => n === 0),
    },
    {
      section,
      name: "start of one shadow, 90 started 4 at a time (jailed, niced, cold)",
      value: Math.round(startMsPerShadow * 10) / 10,
      unit: "ms",
      goal: "< 50 ms cold",
      met: startMsPerShadow < 50,
    },
    {
      section,
      name: "start of one shadow from the shadow thread's warm pool (code loaded, ready)",
      value: Math.round(percentile(pooledStarts, 50) * 100) / 100,
      unit: "ms",
      goal: "< 5 ms",
      met: percentile(pooledStarts, 50) < 5,
    },
    {
      section,
      name: "RSS per shadow (100 running)",
      value: Math.round(rssPerShadow * 10) / 10,
      unit: "MiB",
      goal: "< 60 MiB",
      met: rssPerShadow < 60,
    },
  ];
  return figures;
}
