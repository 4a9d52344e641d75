/**
 * The soak: `deno run -A tests/soak.ts --duration-s N [--json] [--sample-ms M]`. Runs the real server
 * (`main.ts start`, the shipped agents) under continuous traffic and continuous evolution (candidates of
 * the sorter submitted one after another — wrong, no faster, faster — each shadowed, evaluated in jails
 * and decided), and samples, every `--sample-ms`, the server's own RSS, the RSS of its whole process tree,
 * its open file descriptors and its process count. It prints a report with the growth of each over the
 * run after a warm-up (first fifth of the run, at most 60 s): window means (first and last fifth after the
 * warm-up) and a least-squares slope per minute. Leaked descriptors show most clearly as `orphan_pipes`:
 * pipe ends the server still holds though no process holds the other end. `tests/stress_soak_test.ts`
 * runs it for ~20 s and asserts bounded growth; run it for hours by hand.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { descendants, rssBytes } from "../observability/mod.ts";
import { post, ROOT, startServer, type TestServer } from "./_server.ts";

/** Options of {@link soak}. */
export interface SoakOptions {
  durationS: number;
  /** Time between samples. @default 1000 */
  sampleMs?: number;
  /** Traffic clients. @default 4 */
  clients?: number;
  /** Progress lines on stderr. @default false */
  verbose?: boolean;
}

/** One sample. */
export interface SoakSample {
  t_s: number;
  server_rss_mb: number;
  tree_rss_mb: number;
  fds: number;
  /** Pipe ends the server holds whose other end no process holds any more: leaked descriptors. */
  orphan_pipes: number;
  processes: number;
}

/** Growth of one measure after the warm-up. */
export interface Growth {
  first: number;
  last: number;
  /** Mean of the last window minus mean of the first window. */
  growth: number;
  /** Least-squares slope over the samples after the warm-up, per minute. */
  slope_per_min: number;
  max: number;
}

/** What {@link soak} reports. */
export interface SoakReport {
  duration_s: number;
  requests: number;
  errors: number;
  error_statuses: Record<string, number>;
  candidates: { submitted: number; promoted: number; rejected: number };
  warmup_s: number;
  server_rss_mb: Growth;
  tree_rss_mb: Growth;
  fds: Growth;
  orphan_pipes: Growth;
  processes: Growth;
  /** Processes of the server left running after it stopped (must be none). */
  leftover_processes: number[];
  samples: SoakSample[];
}

const WARMUP_SHARE = 0.2;
const WARMUP_S_MAX = 60;
const CANDIDATES = ["sorter_wrong.ts", "sorter_same.ts", "sorter_fast.ts"];
const CLIENT_PAUSE_MS = 5;
const DECISION_POLL_MS = 250;

function fdCount(pid: number): number {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
  } catch {
    return 0;
  }
}

/** The server's pipe ends whose other end is held by no process (one scan of /proc). */
function orphanPipes(pid: number): number {
  const holders = new Map<string, number>();
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === pid) continue;
    try {
      for (const fd of Deno.readDirSync(`/proc/${entry.name}/fd`)) {
        try {
          const target = Deno.readLinkSync(`/proc/${entry.name}/fd/${fd.name}`);
          if (target.startsWith("pipe:")) holders.set(target, (holders.get(target) ?? 0) + 1);
        } catch { /* closed meanwhile */ }
      }
    } catch { /* exited meanwhile */ }
  }
  let orphans = 0;
  try {
    for (const fd of Deno.readDirSync(`/proc/${pid}/fd`)) {
      try {
        const target = Deno.readLinkSync(`/proc/${pid}/fd/${fd.name}`);
        if (target.startsWith("pipe:") && !holders.has(target)) orphans++;
      } catch { /* closed meanwhile */ }
    }
  } catch { /* gone */ }
  return orphans;
}

function sample(server: TestServer, startedMs: number): SoakSample {
  const pid = server.process.pid;
  const tree = descendants(pid);
  const mb = (b: number) => Math.round((b / 2 ** 20) * 10) / 10;
  return {
    t_s: Math.round((performance.now() - startedMs) / 100) / 10,
    server_rss_mb: mb(rssBytes(pid)),
    tree_rss_mb: mb([pid, ...tree].reduce((sum, p) => sum + rssBytes(p), 0)),
    fds: fdCount(pid),
    orphan_pipes: orphanPipes(pid),
    processes: tree.length,
  };
}

function growth(samples: SoakSample[], key: keyof Omit<SoakSample, "t_s">, warmupS: number): Growth {
  const after = samples.filter((s) => s.t_s >= warmupS);
  const xs = after.length >= 2 ? after : samples;
  const window = Math.max(1, Math.floor(xs.length / 5));
  const mean = (a: SoakSample[]) => a.reduce((s, x) => s + x[key], 0) / a.length;
  const first = mean(xs.slice(0, window));
  const last = mean(xs.slice(-window));
  const tMean = xs.reduce((s, x) => s + x.t_s, 0) / xs.length;
  const vMean = mean(xs);
  let num = 0;
  let den = 0;
  for (const x of xs) {
    num += (x.t_s - tMean) * (x[key] - vMean);
    den += (x.t_s - tMean) ** 2;
  }
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    first: round(first),
    last: round(last),
    growth: round(last - first),
    slope_per_min: round(den === 0 ? 0 : (num / den) * 60),
    max: Math.max(...xs.map((x) => x[key])),
  };
}

/** The traffic: counter writes, assistant echoes, sorter calls, in a loop until stopped. */
async function client(
  server: TestServer,
  c: number,
  running: () => boolean,
  tally: SoakTally,
): Promise<void> {
  for (let i = 0; running(); i++) {
    const kind = i % 3;
    const [path, input] = kind === 0
      ? ["counter", { add: `c${c}-${i}` }]
      : kind === 1
      ? ["simple-assistant", { message: `hi ${i}` }]
      : ["sorter", { items: Array.from({ length: 20 + (i % 60) }, (_, k) => ((k * 7919 + i) % 1000) - 500) }];
    try {
      const r = await post(`${server.url}/v1/agents/${path}/invoke`, { input });
      tally.requests++;
      if (r.status !== 200) {
        tally.errors++;
        tally.statuses[r.status] = (tally.statuses[r.status] ?? 0) + 1;
      }
    } catch {
      tally.errors++;
      tally.statuses["socket"] = (tally.statuses["socket"] ?? 0) + 1;
    }
    await new Promise((r) => setTimeout(r, CLIENT_PAUSE_MS));
  }
}

interface SoakTally {
  requests: number;
  errors: number;
  statuses: Record<string, number>;
  candidates: { submitted: number; promoted: number; rejected: number };
}

/** The evolution: one sorter candidate after another, each waited for until decided. */
async function evolution(server: TestServer, running: () => boolean, tally: SoakTally, verbose: boolean) {
  const base = `${server.url}/v1/agents/sorter/candidates`;
  for (let i = 0; running(); i++) {
    const file = CANDIDATES[i % CANDIDATES.length];
    const source = Deno.readTextFileSync(join(ROOT, "examples", "candidates", file));
    const r = await post(base, { source });
    if (r.status !== 202) {
      await new Promise((res) => setTimeout(res, DECISION_POLL_MS));
      continue;
    }
    tally.candidates.submitted++;
    while (running()) {
      const c = await (await fetch(`${base}/${r.body.id}`)).json();
      if (c.status === "promoted" || c.status === "rejected") {
        tally.candidates[c.status as "promoted" | "rejected"]++;
        if (verbose) console.error(`soak: ${file} ${c.status}`);
        break;
      }
      await new Promise((res) => setTimeout(res, DECISION_POLL_MS));
    }
  }
}

/**
 * Runs the soak; see the module doc.
 *
 * @returns The report (the caller judges it).
 */
export async function soak(options: SoakOptions): Promise<SoakReport> {
  const sampleMs = options.sampleMs ?? 1_000;
  const server = await startServer({
    args: ["--log-level", "warn", "--shadow-window-ms", "2000", "--checkpoint-every-records", "2000"],
  });
  const tally: SoakTally = {
    requests: 0,
    errors: 0,
    statuses: {},
    candidates: { submitted: 0, promoted: 0, rejected: 0 },
  };
  const samples: SoakSample[] = [];
  const startedMs = performance.now();
  const endMs = startedMs + options.durationS * 1000;
  const running = () => performance.now() < endMs;
  let leftover: number[] = [];
  try {
    const work = [
      ...Array.from({ length: options.clients ?? 4 }, (_, c) => client(server, c, running, tally)),
      evolution(server, running, tally, options.verbose ?? false),
    ];
    while (running()) {
      samples.push(sample(server, startedMs));
      if (options.verbose) {
        console.error(`soak: ${JSON.stringify(samples.at(-1))} requests ${tally.requests}`);
      }
      await new Promise((r) => setTimeout(r, Math.min(sampleMs, Math.max(0, endMs - performance.now()))));
    }
    samples.push(sample(server, startedMs));
    await Promise.all(work);
  } finally {
    const tree = descendants(server.process.pid);
    await server.stop();
    await new Promise((r) => setTimeout(r, 300));
    // Zombies do not count: they hold no resource but a pid, and reaping orphans is init's job.
    leftover = tree.filter((p) => {
      try {
        const stat = Deno.readTextFileSync(`/proc/${p}/stat`);
        return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
      } catch {
        return false;
      }
    });
    await Deno.remove(server.data, { recursive: true }).catch(() => {});
  }
  const warmupS = Math.min(WARMUP_S_MAX, options.durationS * WARMUP_SHARE);
  return {
    duration_s: options.durationS,
    requests: tally.requests,
    errors: tally.errors,
    error_statuses: tally.statuses,
    candidates: tally.candidates,
    warmup_s: warmupS,
    server_rss_mb: growth(samples, "server_rss_mb", warmupS),
    tree_rss_mb: growth(samples, "tree_rss_mb", warmupS),
    fds: growth(samples, "fds", warmupS),
    orphan_pipes: growth(samples, "orphan_pipes", warmupS),
    processes: growth(samples, "processes", warmupS),
    leftover_processes: leftover,
    samples,
  };
}

const USAGE =
  `Usage: deno run -A tests/soak.ts --duration-s N [--sample-ms M] [--clients C] [--json] [--verbose]

Runs the server under continuous traffic and evolution for N seconds and reports the growth of its
memory, file descriptors and processes after a warm-up.`;

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      "duration-s": { type: "string" },
      "sample-ms": { type: "string" },
      clients: { type: "string" },
      json: { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const durationS = Number(values["duration-s"]);
  if (values.help || !(durationS > 0)) {
    console.log(USAGE);
    Deno.exit(values.help ? 0 : 2);
  }
  const report = await soak({
    durationS,
    sampleMs: values["sample-ms"] ? Number(values["sample-ms"]) : undefined,
    clients: values.clients ? Number(values.clients) : undefined,
    verbose: values.verbose,
  });
  if (values.json) console.log(JSON.stringify(report));
  else {
    const { samples: _samples, ...summary } = report;
    console.log(JSON.stringify(summary, null, 2));
  }
}
