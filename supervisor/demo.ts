/**
 * `deno task demo`: the O V2 protected-evolution demo, narrated on the terminal. A suboptimal sorter runs
 * live; the evolution engine generates improvements; three candidates go through the protected path under
 * live traffic (the evolved one is promoted, a subtly wrong one and a no-faster one are rejected, with the
 * evidence printed); then the live sandbox is killed mid-traffic and recovers without losing a write.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { runEvolution, SandboxEvaluator, TypeChecker } from "../evolution/mod.ts";
import type { CandidateRecord } from "./candidates.ts";
import { parseStartOptions, type StartOptions, startServer } from "./server.ts";
import { PROJECT_ROOT } from "./supervisor.ts";

/** Usage of `main.ts demo`. */
export const DEMO_USAGE = `Usage: main.ts demo [--seed S] [--generations N] [--keep DIR]

The protected-evolution demo: sorter → generated improvements → shadow tests → one promoted, a wrong one and
a no-faster one rejected → a crash and its recovery. Takes about two minutes.

Options:
  --seed S          seed of the evolution run (default 1)
  --generations N   generations to evolve (default 3)
  --keep DIR        keep the data directory here (default: a temp dir, removed at the end)
  -h, --help        show this help`;

const bold = (s: string) => Deno.stdout.isTerminal() ? `\x1b[1m${s}\x1b[0m` : s;
const say = (s = "") => console.log(s);
const step = (n: number, title: string) => say(`\n${bold(`${n}. ${title}`)}`);

function items(n: number, seed: number): number[] {
  let x = seed;
  return Array.from({ length: n }, () => (x = (x * 1103515245 + 12345) % 2147483648) % 2001 - 1000);
}

async function call(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: await res.json() };
}

/** Median time of an invoke of the sorter on 200 items, ms, measured from here. */
async function sorterMs(base: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t = performance.now();
    await call(`${base}/invoke`, { input: { items: items(200, i + 1) } });
    samples.push(performance.now() - t);
  }
  return samples.sort((a, b) => a - b)[20];
}

/** `main.ts demo`. @returns The exit code. */
export async function demoCommand(args: string[]): Promise<number> {
  const values = parseDemoArgs(args);
  if (typeof values === "number") return values;
  const data = values.keep ?? await Deno.makeTempDir({ prefix: "o-demo-" });
  const flags = ["--port", "0", "--data", data, "--log-level", "error", "--shadow-window-ms", "5000"];
  step(1, "O starts: the example agents, each in its own jailed sandbox, state in a write-ahead log");
  const running = await startServer(parseStartOptions(flags) as StartOptions);
  const url = `http://127.0.0.1:${running.port}`;
  let ok = false;
  try {
    say(`   listening on ${url}; agents: ${[...running.supervisor.hosts.keys()].join(", ")}`);
    ok = await story(url, data, values);
    step(5, "A crash: the counter's sandbox is SIGKILLed in the middle of writes");
    ok = await crashAndRecover(url, running.supervisor.get("counter")) && ok;
  } finally {
    await running.shutdown();
    if (values.keep === undefined) await Deno.remove(data, { recursive: true }).catch(() => {});
  }
  const end = ok
    ? "Demo complete: no change reached the live agent without evidence, and nothing was lost."
    : "Demo finished with unexpected results (see above).";
  say(`\n${bold(end)}`);
  return ok ? 0 : 1;
}

function parseDemoArgs(args: string[]): { seed: string; generations: string; keep?: string } | number {
  try {
    const { values } = parseArgs({
      args,
      strict: true,
      options: {
        seed: { type: "string", default: "1" },
        generations: { type: "string", default: "3" },
        keep: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
    if (values.help) {
      say(DEMO_USAGE);
      return 0;
    }
    return { seed: values.seed!, generations: values.generations!, keep: values.keep };
  } catch (e) {
    console.error(`demo: ${e instanceof Error ? e.message : e}\n\n${DEMO_USAGE}`);
    return 2;
  }
}

/** Steps 2–4: evolve, three candidates under live traffic, the comparison. @returns Whether it went right. */
async function story(
  url: string,
  data: string,
  values: { seed: string; generations: string },
): Promise<boolean> {
  const base = `${url}/v1/agents/sorter`;
  const before = await sorterMs(base);
  say(
    `   sorter 1.0.0 (a deliberately wasteful bubble sort) answers 200 numbers in ${
      before.toFixed(2)
    } ms (median)`,
  );

  step(2, "The evolution engine generates improvements (mutation, crossover, snippet replacement)");
  const evolved = await evolve(data, Number(values.generations), values.seed);
  const verdict = evolved.promotable ? "beats" : "does not beat";
  say(
    `   ${evolved.evals} evaluations in jails, ${
      evolved.evalsPerS.toFixed(0)
    }/s; best candidate ${verdict} the live version`,
  );

  step(3, "Three candidates take the protected path while live traffic flows (shadows never answer users)");
  const traffic = startTraffic(base);
  const candidates = join(PROJECT_ROOT, "examples", "candidates");
  const sources = {
    wrong: await Deno.readTextFile(join(candidates, "sorter_wrong.ts")),
    "no-faster": await Deno.readTextFile(join(candidates, "sorter_same.ts")),
    evolved: evolved.source,
  };
  const decisions: Record<string, CandidateRecord> = {};
  for (const [label, source] of Object.entries(sources)) {
    const r = await call(`${base}/candidates`, {
      source,
      operator: label === "evolved" ? "evolve" : "submitted",
    });
    say(`   submitted ${label.padEnd(9)} → candidate ${r.json.id} (${r.json.status})`);
    decisions[label] = await waitDecision(`${base}/candidates/${r.json.id}`, label);
  }
  const live = await traffic.stop();
  const versions = [...live.versions].join(", ");
  say(`   meanwhile ${live.answered} live requests were answered, all by ${versions}; ${live.failed} failed`);

  step(4, "Metrics compared: the live version before and after the promotion");
  const after = await sorterMs(base);
  const version = (await (await fetch(`${url}/health`)).json()).agents.sorter.version;
  say(`   now live: sorter ${version}; 200 numbers in ${after.toFixed(2)} ms (was ${before.toFixed(2)} ms)`);
  for (const v of (await (await fetch(`${base}/lineage`)).json()).versions) {
    say(
      `   lineage: ${v.version} (${v.operator}${v.parent ? `, parent ${v.parent}` : ""})${
        v.live ? "  ← live" : ""
      }`,
    );
  }
  return live.failed === 0 && decisions.wrong.status === "rejected" &&
    decisions["no-faster"].status === "rejected";
}

async function evolve(data: string, generations: number, seed: string) {
  const source = await Deno.readTextFile(join(PROJECT_ROOT, "examples", "agents", "sorter.ts"));
  const evaluator = new SandboxEvaluator({ tier: "jail" });
  const checker = new TypeChecker();
  try {
    const result = await runEvolution({
      source,
      evaluator,
      seed,
      generations,
      typeCheck: (s) => checker.check(s),
      onProgress: (p) =>
        say(
          `   generation ${p.generation}/${p.generations}: best fitness ${p.bestFitness.toFixed(3)}, ${
            p.evalsPerS.toFixed(0)
          } evals/s`,
        ),
    });
    await Deno.writeTextFile(join(data, "evolved-sorter.ts"), result.best?.source ?? result.source);
    return {
      source: result.best?.source ?? result.source,
      promotable: result.promoted,
      evals: result.evals,
      evalsPerS: result.evalsPerS,
    };
  } finally {
    await evaluator.close();
  }
}

async function waitDecision(url: string, label: string): Promise<CandidateRecord> {
  let last = "";
  for (;;) {
    const r = await (await fetch(url)).json() as CandidateRecord;
    if (r.status !== last) {
      last = r.status;
      if (r.status === "shadowing") {
        say(
          `   ${label.padEnd(9)} shadowing: mirrored live traffic + the live version's evals, alone in jails`,
        );
      }
    }
    if (r.status === "promoted" || r.status === "rejected") {
      const e = r.evidence ?? { reason: "" };
      const stats = e.p_value === undefined || e.p_value === null
        ? ""
        : ` (p=${Number(e.p_value).toExponential(1)}, effect ${Number(e.effect_size).toFixed(2)}, ` +
          `${e.regressions} regressions, ${e.mismatches ?? 0} mismatches)`;
      say(`   ${label.padEnd(9)} ${r.status.toUpperCase()}: ${e.reason}${stats}`);
      return r;
    }
    await new Promise((res) => setTimeout(res, 250));
  }
}

function startTraffic(base: string) {
  let running = true;
  const stats = { answered: 0, failed: 0, versions: new Set<string>() };
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const r = await call(`${base}/invoke`, { input: { items: items(50 + (i % 150), i) } }).catch(() =>
        null
      );
      if (r?.status === 200) (stats.answered++, stats.versions.add(String(r.json.version)));
      else stats.failed++;
      await new Promise((res) => setTimeout(res, 50)); // About 20 requests a second.
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}

async function crashAndRecover(url: string, host: { pid: number | undefined }): Promise<boolean> {
  const acked: string[] = [];
  let failed = 0;
  let killedAt = Infinity;
  let recoveredAt = Infinity;
  const writes = (async () => {
    for (let i = 0; i < 300; i++) {
      const r = await call(`${url}/v1/agents/counter/invoke`, { input: { add: `demo-${i}` } }).catch(() =>
        null
      );
      if (r?.status === 200) {
        acked.push(`demo-${i}`);
        if (failed > 0 && recoveredAt === Infinity) recoveredAt = performance.now();
      } else failed++;
    }
  })();
  await new Promise((res) => setTimeout(res, 100));
  const pid = host.pid;
  killedAt = performance.now();
  if (pid !== undefined) Deno.kill(pid, "SIGKILL");
  await writes;
  const gap = recoveredAt === Infinity
    ? "no write failed"
    : `${(recoveredAt - killedAt).toFixed(1)} ms after the kill`;
  say(`   killed pid ${pid}; the hot standby took the durable state and answered again ${gap}`);
  const state = await (await fetch(`${url}/v1/agents/counter/state`)).json();
  const keys = new Set(state.state.keys as string[]);
  const lost = acked.filter((k) => !keys.has(k));
  say(
    `   ${acked.length} writes acknowledged, ${failed} refused during the restart (the client may retry them), ` +
      `${lost.length} acknowledged writes lost`,
  );
  return lost.length === 0;
}
