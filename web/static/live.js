// @ts-check
/// <reference lib="dom" />
/**
 * The server-wide panels: the live agents table, the overview figures, traffic (request rate and latency
 * from `/metrics` between polls) and crashes and recoveries (from `/health` between polls and
 * `o_sandbox_restarts_total`).
 *
 * @module
 */
import { ApiError } from "./api.js";
import { COLORS, lineChart } from "./charts.js";
import { byId, fill, h } from "./dom.js";
import { duration, num, size } from "./format.js";
import { between, parsePrometheus, summarize } from "./prom.js";
import { badge, clock, describe } from "./view.js";

/** Points kept for the traffic charts (6 minutes at the default period). */
const HISTORY_POINTS_MAX = 180;
/** Crash and recovery events kept. */
const EVENTS_MAX = 50;

/**
 * @typedef {{ name: string, version: string, status: string, seq: number | null, state_bytes: number | null,
 *   memory_bytes: number | null, shadows: number, restarts: number, doc: string }} AgentRow
 * @typedef {{ time_ms: number, agent: string, kind: string, text: string }} PageEvent
 * @typedef {{ status: string, restarts: number, version: string }} AgentHealth
 */

const live = {
  /** @type {import("./prom.js").Scrape | null} */
  scrape: null,
  /** @type {ReturnType<typeof between> | null} */
  window: null,
  /** @type {{ t: number[], rate: (number | null)[], errors: (number | null)[], p50: (number | null)[],
   *   p99: (number | null)[] }} */
  history: { t: [], rate: [], errors: [], p50: [], p99: [] },
  /** @type {import("./charts.js").Chart | null} */
  rateChart: null,
  /** @type {import("./charts.js").Chart | null} */
  latencyChart: null,
  /** @type {Record<string, AgentHealth> | null} */
  health: null,
  /** @type {PageEvent[]} */
  events: [],
  /** @type {Map<string, number>} */
  lastCrash: new Map(),
};

/**
 * One row per agent: `/v1/agents` when it answered, else what `/health` knows (no seq or state size).
 *
 * @param {any} health
 * @param {any} list
 * @returns {AgentRow[]}
 */
export function agentRows(health, list) {
  const fromHealth = health?.agents && typeof health.agents === "object" ? health.agents : {};
  /** @type {Map<string, AgentRow>} */
  const rows = new Map();
  for (const [name, a] of Object.entries(fromHealth)) {
    rows.set(name, {
      name,
      version: String(a?.version ?? "–"),
      status: String(a?.status ?? "unknown"),
      seq: null,
      state_bytes: null,
      memory_bytes: typeof a?.memory_bytes === "number" ? a.memory_bytes : null,
      shadows: Number(a?.shadows ?? 0),
      restarts: Number(a?.restarts ?? 0),
      doc: "",
    });
  }
  for (const a of Array.isArray(list?.agents) ? list.agents : []) {
    if (typeof a?.name !== "string") continue;
    const known = rows.get(a.name);
    rows.set(a.name, {
      name: a.name,
      version: String(a.version ?? known?.version ?? "–"),
      status: String(a.status ?? known?.status ?? "unknown"),
      seq: typeof a.seq === "number" ? a.seq : null,
      state_bytes: typeof a.state_bytes === "number" ? a.state_bytes : null,
      memory_bytes: known?.memory_bytes ?? null,
      shadows: Number(known?.shadows ?? a.shadows ?? 0),
      restarts: Number(known?.restarts ?? a.restarts ?? 0),
      doc: typeof a.doc === "string" ? a.doc : "",
    });
  }
  return [...rows.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * @param {AgentRow} r
 * @param {import("./prom.js").Window | undefined} w
 * @param {boolean} selected
 * @param {(name: string) => void} onSelect
 * @returns {HTMLElement}
 */
function agentRow(r, w, selected, onSelect) {
  const button = h("button", { type: "button", class: "link", title: r.doc || null }, r.name);
  button.addEventListener("click", () => onSelect(r.name));
  return h(
    "tr",
    { "data-agent": r.name, class: selected ? "selected" : null, "aria-current": selected ? "true" : null },
    h("td", { "data-col": "name" }, button),
    h("td", { "data-col": "version", class: "mono" }, r.version),
    h("td", { "data-col": "status" }, badge(r.status)),
    h("td", { "data-col": "seq", class: "n" }, r.seq === null ? "–" : num(r.seq)),
    h("td", { "data-col": "state", class: "n" }, size(r.state_bytes)),
    h("td", { "data-col": "memory", class: "n" }, size(r.memory_bytes)),
    h("td", { "data-col": "shadows", class: "n" }, num(r.shadows)),
    h("td", { "data-col": "restarts", class: "n" }, num(r.restarts)),
    h("td", { "data-col": "rate", class: "n" }, w ? num(w.rate) : "–"),
    h("td", { "data-col": "p99", class: "n" }, w ? duration(w.p99_ms) : "–"),
    h("td", { "data-col": "errors", class: "n" }, w ? num(w.error_rate) : "–"),
  );
}

/**
 * @param {AgentRow[]} rows
 * @param {string | null} selected
 * @param {(name: string) => void} onSelect
 */
export function drawAgents(rows, selected, onSelect) {
  const tbody = /** @type {HTMLElement} */ (byId("agents").querySelector("tbody"));
  if (rows.length === 0) {
    fill(tbody, h("tr", {}, h("td", { colspan: 11, class: "muted" }, "No agents registered.")));
    return;
  }
  const win = live.window;
  /** An agent without invokes has no series in /metrics yet: once rates exist, its rate is 0. */
  const idle = { rate: 0, error_rate: 0, mean_ms: null, p50_ms: null, p99_ms: null, restarts: 0 };
  fill(
    tbody,
    rows.map((r) => agentRow(r, win ? win.agents[r.name] ?? idle : undefined, r.name === selected, onSelect)),
  );
}

/** @param {AgentRow[]} rows */
export function drawKpis(rows) {
  const w = live.window?.total;
  const ready = rows.filter((r) => r.status === "ready").length;
  byId("kpi-agents").textContent = `${ready} / ${rows.length}`;
  byId("kpi-rate").textContent = w ? num(w.rate) : "–";
  byId("kpi-p50").textContent = w ? duration(w.p50_ms) : "–";
  byId("kpi-p99").textContent = w ? duration(w.p99_ms) : "–";
  byId("kpi-errors").textContent = w ? num(w.error_rate) : "–";
  byId("kpi-shadows").textContent = num(rows.reduce((n, r) => n + r.shadows, 0));
  byId("kpi-restarts").textContent = num(rows.reduce((n, r) => n + r.restarts, 0));
  byId("kpi-rss").textContent = size(live.scrape?.rss_bytes);
}

/**
 * Takes a scrape of `/metrics`, computes the window since the previous one and adds it to the history.
 *
 * @param {string} text
 * @param {number} timeMs
 */
export function takeScrape(text, timeMs) {
  const scrape = summarize(parsePrometheus(text), timeMs);
  const before = live.scrape;
  live.scrape = scrape;
  if (before === null || scrape.time_ms <= before.time_ms) return;
  live.window = between(before, scrape);
  const hist = live.history;
  hist.t.push(timeMs / 1000);
  hist.rate.push(live.window.total.rate);
  hist.errors.push(live.window.total.error_rate);
  hist.p50.push(live.window.total.p50_ms);
  hist.p99.push(live.window.total.p99_ms);
  if (hist.t.length > HISTORY_POINTS_MAX) {
    for (const series of Object.values(hist)) series.shift();
  }
}

/**
 * @param {unknown} metricsError
 * @param {number} pollMs
 */
export function drawTraffic(metricsError, pollMs) {
  const note = byId("traffic-note");
  if (metricsError) {
    const needsToken = metricsError instanceof ApiError && metricsError.status === 401;
    note.textContent = needsToken
      ? "/metrics needs a token with the read scope."
      : `Cannot read /metrics: ${describe(metricsError)}`;
    return;
  }
  const hist = live.history;
  if (hist.t.length === 0) return;
  note.textContent = `Rates between scrapes of /metrics every ${num(pollMs / 1000)} s; latency from the ` +
    "o_invoke_duration_seconds histogram.";
  const rate = [hist.t, hist.rate, hist.errors];
  const latency = [hist.t, hist.p50, hist.p99];
  if (live.rateChart === null || live.latencyChart === null) {
    live.rateChart = lineChart(byId("rate-chart"), {
      x: "time",
      yFromZero: true,
      yLabel: "requests / s",
      series: [{ label: "req/s", color: COLORS.blue, fill: true }, { label: "errors/s", color: COLORS.red }],
    }, rate);
    live.latencyChart = lineChart(byId("latency-chart"), {
      x: "time",
      yFromZero: true,
      yLabel: "latency ms",
      series: [{ label: "p50 ms", color: COLORS.green }, { label: "p99 ms", color: COLORS.amber }],
    }, latency);
  } else {
    live.rateChart.setData(rate);
    live.latencyChart.setData(latency);
  }
}

/**
 * @param {string} agent
 * @param {string} kind `crash`, `recovered`, `failed`, `status`, `version` or `info`.
 * @param {string} text
 * @param {number} now
 */
function addEvent(agent, kind, text, now) {
  live.events.unshift({ time_ms: now, agent, kind, text });
  if (live.events.length > EVENTS_MAX) live.events.length = EVENTS_MAX;
  if (kind === "crash") live.lastCrash.set(agent, now);
}

/**
 * The events between one agent's previous and current health.
 *
 * @param {string} name
 * @param {AgentHealth} old
 * @param {AgentHealth} cur
 * @param {number} now
 */
function compareHealth(name, old, cur, now) {
  if (cur.restarts > old.restarts) {
    const n = cur.restarts - old.restarts;
    const after = cur.status === "ready" ? "serving again" : `now ${cur.status}`;
    addEvent(name, "crash", `sandbox crashed${n > 1 ? ` ${n} times` : ""}, restarted: ${after}`, now);
  }
  if (cur.status !== old.status) {
    const kind = cur.status === "ready" ? "recovered" : cur.status === "failed" ? "failed" : "status";
    addEvent(name, kind, `${old.status} → ${cur.status}`, now);
  }
  if (cur.version !== old.version) {
    addEvent(name, "version", `now serving ${cur.version} (was ${old.version})`, now);
  }
}

/**
 * Turns the difference between two `/health` answers into events: restarts (crashes), status changes
 * (recovered, failed), new versions and new agents.
 *
 * @param {any} health
 * @param {number} now
 */
export function trackHealth(health, now) {
  const agents = health?.agents && typeof health.agents === "object" ? health.agents : null;
  if (agents === null) return;
  const before = live.health;
  /** @type {Record<string, AgentHealth>} */
  const next = {};
  for (const [name, a] of Object.entries(agents)) {
    const cur = {
      status: String(a?.status),
      restarts: Number(a?.restarts ?? 0),
      version: String(a?.version),
    };
    next[name] = cur;
    const old = before?.[name];
    if (old !== undefined) compareHealth(name, old, cur, now);
    else if (before !== null) addEvent(name, "info", `registered at version ${cur.version}`, now);
    else if (cur.status === "failed") addEvent(name, "failed", "failed before this page opened", now);
    else if (cur.restarts > 0) {
      addEvent(name, "info", `${cur.restarts} restarts before this page opened`, now);
    }
  }
  live.health = next;
}

/** @param {AgentRow[]} rows */
export function drawCrashes(rows) {
  const metric = live.scrape?.agents ?? {};
  const tbody = /** @type {HTMLElement} */ (byId("restarts").querySelector("tbody"));
  fill(
    tbody,
    rows.map((r) => {
      const crashed = live.lastCrash.get(r.name);
      return h(
        "tr",
        { "data-agent": r.name },
        h("td", {}, r.name),
        h("td", {}, badge(r.status)),
        h("td", { class: "n", "data-col": "restarts" }, num(r.restarts)),
        h("td", { class: "n", "data-col": "metric" }, metric[r.name] ? num(metric[r.name].restarts) : "–"),
        h("td", {}, crashed === undefined ? "–" : clock(crashed)),
      );
    }),
  );
  const list = byId("events");
  if (live.events.length === 0) {
    fill(list, h("li", { class: "muted" }, "none yet"));
    return;
  }
  fill(
    list,
    live.events.map((e) =>
      h(
        "li",
        { "data-kind": e.kind },
        h("time", {}, clock(e.time_ms)),
        " ",
        h("b", {}, e.agent),
        " ",
        h("span", { class: `event-${e.kind}` }, e.text),
      )
    ),
  );
}
