/**
 * Goal: under continuous traffic and continuous evolution the server's memory, file descriptors and
 * processes stay bounded, no request fails, and nothing outlives the server.
 * Method: the soak (tests/soak.ts) for ~20 s — the short form of a run of hours — then its report is
 * judged: growth after the warm-up (last window's mean minus the first's) must stay under small bounds.
 * The bounds are loose enough for a 20 s window on a shared 2-core machine (heap growth after start,
 * shadows and jails coming and going with each candidate) and tight enough to catch a leak per request
 * or per candidate.
 */
import { deepStrictEqual, ok } from "node:assert";
import { soak } from "./soak.ts";

const DURATION_S = 20;
/** The supervisor's own RSS may grow this much after the warm-up within the run. */
const SERVER_RSS_GROWTH_MB_MAX = 64;
/** Open file descriptors of the server may grow this much (candidates' shadows and jails come and go). */
const FDS_GROWTH_MAX = 48;
/**
 * Pipe ends the server holds with no process at the other end: a leak, whatever the load. A couple may be
 * in the middle of being closed when a sample is taken.
 */
const ORPHAN_PIPES_MAX = 2;
/** Processes of the server's tree may grow this much (a candidate's shadow and jails in flight). */
const PROCESSES_GROWTH_MAX = 12;

Deno.test("soak (20 s): continuous traffic and evolution keep memory, fds and processes bounded", async () => {
  const r = await soak({ durationS: DURATION_S });
  const { samples: _samples, ...summary } = r;
  console.log(JSON.stringify(summary));
  ok(r.requests > 1_000, `enough traffic: ${r.requests}`);
  deepStrictEqual(r.error_statuses, {}, "failed requests");
  ok(
    r.candidates.promoted + r.candidates.rejected >= 2,
    `candidates decided: ${JSON.stringify(r.candidates)}`,
  );
  ok(r.server_rss_mb.growth < SERVER_RSS_GROWTH_MB_MAX, `server RSS growth ${r.server_rss_mb.growth} MiB`);
  ok(r.fds.growth < FDS_GROWTH_MAX, `fd growth ${r.fds.growth}`);
  ok(
    r.orphan_pipes.last <= ORPHAN_PIPES_MAX,
    `the server holds ${r.orphan_pipes.last} pipe ends whose process is gone (leaked descriptors)`,
  );
  ok(r.processes.growth < PROCESSES_GROWTH_MAX, `process growth ${r.processes.growth}`);
  deepStrictEqual(r.leftover_processes, [], "processes outliving the server");
});
