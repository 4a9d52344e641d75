import { ok, strictEqual } from "node:assert";
import { decide } from "./arbiter.ts";
import type { CaseResult, EvalResult } from "./eval_result.ts";
import { Prng } from "./prng.ts";

const CASES = 8;
const REPEATS = 31;

/**
 * A noisy timing model of lock-step jails: per-case base time × the machine's load at repetition r
 * (shared by all jails, since they run interleaved) × a per-jail drift (another core, another JIT
 * decision: σ 5 %) × log-normal jitter per call (σ 15 %) × occasional 3–8× spikes (GC, preemption).
 */
function timings(prng: Prng, baseMs: number[], load: number[], speed = 1): CaseResult[] {
  const drift = Math.exp(prng.normal() * 0.05);
  return baseMs.map((b) => ({
    pass: true,
    score: null,
    ms: load.map((l) => {
      const spike = prng.chance(0.03) ? 3 + prng.next() * 5 : 1;
      return b * speed * l * drift * Math.exp(prng.normal() * 0.15) * spike;
    }),
    work: 100,
    out: "same",
    weight: 1,
    critical: false,
    regression: false,
  }));
}

function loadCurve(prng: Prng): number[] {
  let level = 1;
  return Array.from(
    { length: REPEATS },
    () => (level = Math.max(0.5, level * Math.exp(prng.normal() * 0.2))),
  );
}

function result(cases: CaseResult[]): EvalResult {
  return { ok: true, cases, alone: true };
}

Deno.test("decide() never promotes the live version over itself (A/A, 2000 seeded runs)", () => {
  const prng = Prng.seeded("aa");
  let promoted = 0;
  let bareP = 0;
  for (let run = 0; run < 2000; run++) {
    const base = Array.from({ length: CASES }, () => 0.05 + prng.next());
    const load = loadCurve(prng);
    const live = result(timings(prng, base, load));
    const d = decide({
      live,
      candidate: result(timings(prng, base, load)),
      liveAgain: result(timings(prng, base, load)),
    });
    if (d.promote) promoted++;
    if ((d.p_value ?? 1) < 0.05) bareP++;
  }
  console.log(`A/A: ${promoted}/2000 promoted by the arbiter; ${bareP}/2000 had p < 0.05 alone`);
  strictEqual(promoted, 0);
  ok(bareP > 40, "the A/A model must be noisy enough that a bare p-value rule would be fooled");
});

Deno.test("decide() promotes a clearly faster candidate with no regression (power)", () => {
  for (const [speed, needed] of [[1 / 3, 195], [0.5, 150]] as const) {
    const prng = Prng.seeded(`power${speed}`);
    let promoted = 0;
    for (let run = 0; run < 200; run++) {
      const base = Array.from({ length: CASES }, () => 0.05 + prng.next());
      const load = loadCurve(prng);
      const d = decide({
        live: result(timings(prng, base, load)),
        candidate: result(timings(prng, base, load, speed)),
        liveAgain: result(timings(prng, base, load)),
      });
      if (d.promote) {
        promoted++;
        strictEqual(d.metric, "latency");
        ok(d.p_value! < 0.05 && d.effect_size! >= 0.5 && d.latency_ratio! < 0.8);
      }
    }
    console.log(`${(1 / speed).toFixed(1)}x faster: ${promoted}/200 promoted`);
    ok(promoted >= needed, `${promoted}/200 at ${speed}`);
  }
});

Deno.test("decide() rejects any regression, however fast", () => {
  const prng = Prng.seeded("reg");
  const base = Array.from({ length: CASES }, () => 1);
  const load = loadCurve(prng);
  const candidate = timings(prng, base, load, 0.1);
  candidate[3] = { ...candidate[3], pass: false, out: "other", error: "Output differs" };
  const d = decide({ live: result(timings(prng, base, load)), candidate: result(candidate) });
  strictEqual(d.promote, false);
  strictEqual(d.regressions, 1);
  strictEqual(d.failures, 1);
  strictEqual(d.mismatches, 1);
  strictEqual(d.cases, CASES);
});

Deno.test("decide() rejects a candidate that did not run", () => {
  const prng = Prng.seeded("x");
  const d = decide({
    live: result(timings(prng, [1], loadCurve(prng))),
    candidate: { ok: false, error: "killed for memory", cases: [], alone: true },
  });
  strictEqual(d.promote, false);
  ok(d.reason.includes("killed for memory"));
});

Deno.test("decide() counts a failed critical regression-set case as a regression even if live fails it too", () => {
  const prng = Prng.seeded("rs");
  const load = loadCurve(prng);
  const live = timings(prng, [1, 1], load);
  const candidate = timings(prng, [1, 1], load, 0.2);
  live[1] = { ...live[1], pass: false, regression: true, critical: true };
  candidate[1] = { ...candidate[1], pass: false, regression: true, critical: true };
  strictEqual(decide({ live: result(live), candidate: result(candidate) }).regressions, 1);
});

Deno.test("decide() lets an open (non-critical) find the live version fails not block a faster candidate", () => {
  const prng = Prng.seeded("open");
  const load = loadCurve(prng);
  const live = timings(prng, [1, 1, 1], load);
  const candidate = timings(prng, [1, 1, 1], load, 0.2);
  live[2] = { ...live[2], pass: false, regression: true };
  candidate[2] = { ...candidate[2], pass: false, regression: true };
  const d = decide({ live: result(live), candidate: result(candidate) });
  strictEqual(d.regressions, 0);
  strictEqual(d.promote, true, d.reason);
  strictEqual(d.metric, "latency");
});

Deno.test("decide() promotes a candidate that fixes a regression-set case, as fast as live (metric fix)", () => {
  const prng = Prng.seeded("fix");
  const load = loadCurve(prng);
  const live = timings(prng, [1, 1, 1], load);
  const candidate = timings(prng, [1, 1, 1], load);
  live[2] = { ...live[2], pass: false, regression: true };
  candidate[2] = { ...candidate[2], regression: true };
  const d = decide({ live: result(live), candidate: result(candidate) });
  strictEqual(d.promote, true, d.reason);
  strictEqual(d.metric, "fix");
  strictEqual(d.fixes, 1);
  // The same fix, but three times slower: not promoted.
  const slow = timings(prng, [3, 3, 3], load);
  slow[2] = { ...slow[2], regression: true };
  strictEqual(decide({ live: result(live), candidate: result(slow) }).promote, false);
  // A failing eval case is not a "fix" of anything: the A/A comparison with equal failures promotes nothing.
  const same = timings(prng, [1, 1, 1], load);
  same[2] = { ...same[2], pass: false, regression: true };
  strictEqual(decide({ live: result(live), candidate: result(same) }).promote, false);
});
