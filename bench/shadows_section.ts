/**
 * Shadows at scale: the live agent's invoke latency while 0, 10 and 100 shadows mirror its traffic (every
 * live answer copied to every shadow), in one in-process Supervisor with real jailed sandboxes.
 *
 * Method: live invokes at a fixed rate (open loop), measured from send to answer. The shadow count
 * alternates 0 and 10 for several rounds, then visits 100 and 0 once more; each level's samples from all
 * its visits are pooled, so a drift in the machine's load weighs on the levels alike. The goal
 * (DESIGN.md): with 10 shadows, live p99 within 15 % of no shadows; with 100, live keeps answering every
 * request.
 *
 * @module
 */
import { drive, type Fleet, shadowRss, startFleet } from "../tests/stress_fleet.ts";
import { type Figure, percentile } from "./_util.ts";

const RATE_PER_S = 100;
/** Rounds of 0 and 10 shadows before the visit to 100. */
const ROUNDS_QUICK = 2;
const ROUNDS_FULL = 5;
const SANDBOX_MEMORY_MB = 128;

async function setShadows(fleet: Fleet, count: number): Promise<number> {
  const started = performance.now();
  if (count > fleet.shadows.length) await fleet.addShadows(count - fleet.shadows.length, { concurrency: 4 });
  else if (count < fleet.shadows.length) await fleet.removeShadows(fleet.shadows.length - count);
  return performance.now() - started;
}

/** Runs the section. */
export async function shadowsSection(quick: boolean): Promise<Figure[]> {
  const durationMs = quick ? 1_500 : 3_000;
  const rounds = quick ? ROUNDS_QUICK : ROUNDS_FULL;
  const levels = [...Array.from({ length: rounds }, () => [0, 10]).flat(), 100, 0];
  const fleet = await startFleet({ memoryMb: SANDBOX_MEMORY_MB });
  const samples = new Map<number, number[]>();
  const errors = new Map<number, number>();
  let startMsPerShadow = 0;
  let rssPerShadow = 0;
  try {
    await drive(fleet.live, RATE_PER_S, 1_000); // Warm the live path (JIT, frames, WAL).
    for (const level of levels) {
      const before = fleet.shadows.length;
      const ms = await setShadows(fleet, level);
      if (level === 100 && startMsPerShadow === 0) {
        startMsPerShadow = ms / (level - before);
        const rss = shadowRss(fleet.shadows);
        rssPerShadow = rss.reduce((a, b) => a + b, 0) / rss.length / 2 ** 20;
      }
      await new Promise((r) => setTimeout(r, 500)); // Let the new shadows settle.
      const report = await drive(fleet.live, RATE_PER_S, durationMs);
      samples.set(level, [...samples.get(level) ?? [], ...report.latenciesMs]);
      errors.set(level, (errors.get(level) ?? 0) + report.errors.length + report.wrong);
    }
  } finally {
    await fleet.stop();
  }
  const p = (level: number, q: number) => Math.round(percentile(samples.get(level)!, q) * 1000) / 1000;
  const base99 = p(0, 99);
  const section = `shadows (live invoke at ${RATE_PER_S} req/s, in-process)`;
  const figures: Figure[] = [
    {
      section,
      name: "live p99, no shadows",
      value: base99,
      unit: "ms",
      goal: "baseline",
    },
    {
      section,
      name: "live p99, 10 shadows mirroring",
      value: p(10, 99),
      unit: "ms",
      baseline: base99,
      baselineName: "no shadows",
      goal: "≤ 1.15× no shadows",
      met: p(10, 99) <= 1.15 * base99,
    },
    {
      section,
      name: "live p99, 100 shadows mirroring",
      value: p(100, 99),
      unit: "ms",
      baseline: base99,
      baselineName: "no shadows",
      goal: "every request answered",
      met: (errors.get(100) ?? 0) === 0,
    },
    {
      section,
      name: "live p50, 100 shadows mirroring",
      value: p(100, 50),
      unit: "ms",
      baseline: p(0, 50),
      baselineName: "no shadows",
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
      name: "RSS per shadow (100 running)",
      value: Math.round(rssPerShadow * 10) / 10,
      unit: "MiB",
      goal: "< 60 MiB",
      met: rssPerShadow < 60,
    },
  ];
  return figures;
}
