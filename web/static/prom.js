// @ts-check
/**
 * Prometheus text exposition (format 0.0.4) in the browser: a parser, a per-agent summary of the metrics
 * the dashboard needs, and rates and latency quantiles between two scrapes. Pure functions, so they are
 * unit-tested under Deno as well.
 *
 * @module
 */

/**
 * @typedef {{ name: string, labels: Record<string, string>, value: number }} Sample
 * @typedef {{ le: number, count: number }} Bucket
 * @typedef {{ invocations: number, errors: number, count: number, sum: number, buckets: Bucket[],
 *   restarts: number }} AgentCounters
 * @typedef {{ time_ms: number, agents: Record<string, AgentCounters>, total: AgentCounters,
 *   shadows: number | null, rss_bytes: number | null }} Scrape
 * @typedef {{ rate: number, error_rate: number, mean_ms: number | null, p50_ms: number | null,
 *   p99_ms: number | null, restarts: number }} Window
 */

/** Longest line the parser looks at; longer ones are skipped (a label value cannot be that long here). */
const LINE_CHARS_MAX = 64 * 1024;
const NAME_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*/;

/**
 * Parses the text exposition into samples. Comment lines (`# HELP`, `# TYPE`) and lines that do not parse
 * are skipped rather than failing the whole scrape.
 *
 * @param {string} text
 * @returns {Sample[]}
 */
export function parsePrometheus(text) {
  /** @type {Sample[]} */
  const samples = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.length > LINE_CHARS_MAX) continue;
    const sample = parseLine(line);
    if (sample !== null) samples.push(sample);
  }
  return samples;
}

/**
 * One sample line: `name{a="x",b="y"} value [timestamp]`.
 *
 * @param {string} line
 * @returns {Sample | null}
 */
function parseLine(line) {
  const name = NAME_PATTERN.exec(line)?.[0];
  if (name === undefined) return null;
  let at = name.length;
  /** @type {Record<string, string>} */
  const labels = {};
  if (line[at] === "{") {
    const parsed = parseLabels(line, at + 1, labels);
    if (parsed < 0) return null;
    at = parsed;
  }
  const fields = line.slice(at).trim().split(/\s+/);
  const value = parseValue(fields[0] ?? "");
  if (value === null) return null;
  return { name, labels, value };
}

/**
 * Parses labels from `at` (just after `{`) into `labels`.
 *
 * @param {string} line
 * @param {number} at
 * @param {Record<string, string>} labels
 * @returns {number} The index after the closing `}`, or -1 when the labels do not parse.
 */
function parseLabels(line, at, labels) {
  while (at < line.length) {
    while (line[at] === " " || line[at] === ",") at++;
    if (line[at] === "}") return at + 1;
    const key = LABEL_NAME_PATTERN.exec(line.slice(at))?.[0];
    if (key === undefined) return -1;
    at += key.length;
    if (line[at] !== "=" || line[at + 1] !== '"') return -1;
    at += 2;
    let value = "";
    while (at < line.length && line[at] !== '"') {
      if (line[at] === "\\" && at + 1 < line.length) {
        const next = line[at + 1];
        value += next === "n" ? "\n" : next;
        at += 2;
      } else {
        value += line[at];
        at += 1;
      }
    }
    if (line[at] !== '"') return -1;
    labels[key] = value;
    at += 1;
  }
  return -1;
}

/**
 * @param {string} text
 * @returns {number | null}
 */
function parseValue(text) {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (text === "") return null;
  const n = Number(text);
  return Number.isNaN(n) ? null : n;
}

/** @returns {AgentCounters} */
function emptyCounters() {
  return { invocations: 0, errors: 0, count: 0, sum: 0, buckets: [], restarts: 0 };
}

/**
 * Adds a cumulative bucket count at `le` (buckets of several versions of one agent add up).
 *
 * @param {Bucket[]} buckets
 * @param {number} le
 * @param {number} count
 */
function addBucket(buckets, le, count) {
  const found = buckets.find((b) => b.le === le);
  if (found) found.count += count;
  else buckets.push({ le, count });
}

/**
 * Sums the metrics the dashboard uses per agent (over versions and outcomes) and in total.
 *
 * @param {Sample[]} samples
 * @param {number} timeMs When the scrape was taken.
 * @returns {Scrape}
 */
export function summarize(samples, timeMs) {
  /** @type {Record<string, AgentCounters>} */
  const agents = Object.create(null);
  const total = emptyCounters();
  /** @type {Scrape} */
  const scrape = { time_ms: timeMs, agents, total, shadows: null, rss_bytes: null };
  /** @param {string | undefined} name */
  const of = (name) => agents[name ?? ""] ??= emptyCounters();
  for (const { name, labels, value } of samples) {
    if (!Number.isFinite(value)) continue;
    if (name === "o_invocations_total") {
      for (const c of [of(labels.agent), total]) {
        c.invocations += value;
        if (labels.outcome !== "ok") c.errors += value;
      }
    } else if (name === "o_invoke_duration_seconds_count") {
      for (const c of [of(labels.agent), total]) c.count += value;
    } else if (name === "o_invoke_duration_seconds_sum") {
      for (const c of [of(labels.agent), total]) c.sum += value;
    } else if (name === "o_invoke_duration_seconds_bucket") {
      const le = parseValue(labels.le ?? "");
      if (le === null) continue;
      for (const c of [of(labels.agent), total]) addBucket(c.buckets, le, value);
    } else if (name === "o_sandbox_restarts_total") {
      for (const c of [of(labels.agent), total]) c.restarts += value;
    } else if (name === "o_shadows") {
      scrape.shadows = value;
    } else if (name === "o_process_memory_bytes" && labels.kind === "rss") {
      scrape.rss_bytes = value;
    }
  }
  for (const c of [...Object.values(agents), total]) c.buckets.sort((a, b) => a.le - b.le);
  return scrape;
}

/**
 * The q-quantile of a cumulative histogram, interpolated linearly inside the bucket it falls in (as
 * PromQL's `histogram_quantile` does). `null` when the histogram is empty.
 *
 * @param {Bucket[]} buckets Cumulative counts, sorted by `le`, the last one `+Inf`.
 * @param {number} q In [0, 1].
 * @returns {number | null}
 */
export function histogramQuantile(buckets, q) {
  if (!(q >= 0 && q <= 1)) throw new RangeError(`Cannot compute quantile: q must be in [0, 1]: ${q}`);
  const total = buckets.at(-1)?.count ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const { le, count } of buckets) {
    if (count >= rank && count > below) {
      if (le === Infinity) return lower;
      return lower + (le - lower) * (rank - below) / (count - below);
    }
    lower = le;
    below = count;
  }
  return lower;
}

/**
 * A counter's increase between two scrapes; a decrease means the server restarted and its counters began
 * again from zero, so the whole current value is the increase.
 *
 * @param {number} before
 * @param {number} after
 * @returns {number}
 */
function increase(before, after) {
  return after >= before ? after - before : after;
}

/**
 * Rates and latencies of one series between two scrapes.
 *
 * @param {AgentCounters | undefined} before
 * @param {AgentCounters} after
 * @param {number} seconds
 * @returns {Window}
 */
export function windowOf(before, after, seconds) {
  if (!(seconds > 0)) throw new RangeError(`Cannot compute rates: the interval must be positive: ${seconds}`);
  const b = before ?? emptyCounters();
  const reset = after.count < b.count;
  const count = increase(b.count, after.count);
  const sum = reset ? after.sum : Math.max(0, after.sum - b.sum);
  const buckets = after.buckets.map(({ le, count: n }) => {
    const old = reset ? 0 : (b.buckets.find((x) => x.le === le)?.count ?? 0);
    return { le, count: Math.max(0, n - old) };
  });
  const ms = (/** @type {number | null} */ s) => s === null ? null : s * 1000;
  return {
    rate: increase(b.invocations, after.invocations) / seconds,
    error_rate: increase(b.errors, after.errors) / seconds,
    mean_ms: count > 0 ? (sum / count) * 1000 : null,
    p50_ms: ms(histogramQuantile(buckets, 0.5)),
    p99_ms: ms(histogramQuantile(buckets, 0.99)),
    restarts: increase(b.restarts, after.restarts),
  };
}

/**
 * Windows for every agent of the later scrape and for the total.
 *
 * @param {Scrape} before
 * @param {Scrape} after
 * @returns {{ seconds: number, total: Window, agents: Record<string, Window> }}
 */
export function between(before, after) {
  const seconds = (after.time_ms - before.time_ms) / 1000;
  /** @type {Record<string, Window>} */
  const agents = Object.create(null);
  for (const [name, counters] of Object.entries(after.agents)) {
    agents[name] = windowOf(before.agents[name], counters, seconds);
  }
  return { seconds, total: windowOf(before.total, after.total, seconds), agents };
}
