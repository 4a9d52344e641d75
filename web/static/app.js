// @ts-check
/**
 * The dashboard: polls O's own API (same origin) and draws live agents, traffic, crashes and recoveries,
 * and for the selected agent its candidates, evolution fitness and lineage. Everything the server sends is
 * untrusted and reaches the page only as text (see dom.js).
 *
 * @module
 */
import { agentPath, ApiError, getJson, getText, getToken, setToken } from "./api.js";
import { COLORS, lineChart } from "./charts.js";
import { byId, fill, h } from "./dom.js";
import { duration, evidenceFacts, num, rawJson, size, uptime } from "./format.js";
import { buildTree, chainOf, livePath } from "./lineage.js";
import { between, parsePrometheus, summarize } from "./prom.js";

/** Default poll period; `?poll=MS` overrides it within the bounds below. */
const POLL_MS_DEFAULT = 2000;
const POLL_MS_MIN = 250;
const POLL_MS_MAX = 60_000;
/** Points kept for the traffic charts (6 minutes at the default period). */
const HISTORY_POINTS_MAX = 180;
/** Crash and recovery events kept. */
const EVENTS_MAX = 50;
/** How long a 404 from an agent's evolution route is believed before asking again. */
const EVOLUTION_RETRY_MS = 15_000;
/** Candidates listed (newest first). */
const CANDIDATES_SHOWN_MAX = 50;
/** Statuses with their own colour; anything else is drawn as "unknown" (the value is never a class). */
const STATUSES = new Set([
  "ok",
  "degraded",
  "ready",
  "starting",
  "restarting",
  "failed",
  "stopped",
  "queued",
  "shadowing",
  "promoted",
  "rejected",
  "running",
  "done",
  "completed",
  "finished",
  "unreachable",
]);

/**
 * @typedef {{ name: string, version: string, status: string, seq: number | null, state_bytes: number | null,
 *   shadows: number, restarts: number, doc: string }} AgentRow
 * @typedef {{ time_ms: number, agent: string, kind: string, text: string }} PageEvent
 */

const state = {
  pollMs: pollPeriod(),
  ticks: 0,
  running: false,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  timer: undefined,
  /** @type {Record<string, {status: string, restarts: number, version: string}> | null} */
  lastHealth: null,
  /** @type {ReturnType<typeof summarize> | null} */
  lastScrape: null,
  /** @type {ReturnType<typeof between> | null} */
  window: null,
  /** @type {{ t: number[], rate: (number|null)[], errors: (number|null)[], p50: (number|null)[],
   *   p99: (number|null)[] }} */
  history: { t: [], rate: [], errors: [], p50: [], p99: [] },
  /** @type {PageEvent[]} */
  events: [],
  /** @type {Map<string, number>} */
  lastCrash: new Map(),
  /** @type {Map<string, string>} Per panel, what it last drew, so an unchanged panel is left alone. */
  drawn: new Map(),
  /** @type {{ agent: string, error: unknown, retry_ms: number } | null} The last 404 of the evolution route. */
  evolution: null,
  /** @type {Set<string>} Evidence blocks the user opened, kept open across redraws. */
  open: new Set(),
  /** @type {Record<string, import("./charts.js").Chart | null>} */
  charts: { rate: null, latency: null, fitness: null },
};

/** @returns {number} */
function pollPeriod() {
  const asked = Number(new URLSearchParams(location.search).get("poll"));
  if (!Number.isFinite(asked) || asked <= 0) return POLL_MS_DEFAULT;
  return Math.min(POLL_MS_MAX, Math.max(POLL_MS_MIN, Math.round(asked)));
}

/**
 * @param {string} status
 * @returns {HTMLElement}
 */
function badge(status) {
  const s = String(status);
  return h("span", { class: "badge", "data-status": STATUSES.has(s) ? s : "unknown" }, s);
}

/** @param {number} ms */
function clock(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "–";
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

/** @param {unknown} e */
function describe(e) {
  if (e instanceof ApiError) return e.status > 0 ? `${e.status} ${e.code}: ${e.message}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Draws into a panel only when what it shows changed.
 *
 * @param {string} key
 * @param {unknown} data
 * @param {() => void} draw
 */
function drawIfChanged(key, data, draw) {
  const signature = JSON.stringify(data);
  if (state.drawn.get(key) === signature) return;
  state.drawn.set(key, signature);
  draw();
}

/**
 * A collapsible raw-evidence block whose open state survives redraws.
 *
 * @param {string} key
 * @param {string} summary
 * @param {unknown} value
 */
function rawDetails(key, summary, value) {
  const details = h("details", { class: "raw" }, h("summary", {}, summary), h("pre", {}, rawJson(value)));
  if (state.open.has(key)) details.setAttribute("open", "");
  details.addEventListener("toggle", () => {
    if (/** @type {HTMLDetailsElement} */ (details).open) state.open.add(key);
    else state.open.delete(key);
  });
  return details;
}

/** @param {[string, string][]} facts */
function factList(facts) {
  return facts.length === 0 ? null : h(
    "ul",
    { class: "facts" },
    facts.map(([k, v]) => h("li", {}, h("span", { class: "fact-key" }, k), " ", h("b", {}, v))),
  );
}

// ---------------------------------------------------------------------------------------------- selection

/** @returns {string | null} */
function selectedFromHash() {
  const m = /^#agent=(.+)$/.exec(location.hash);
  if (m === null) return null;
  try {
    return decodeURIComponent(m[1]);
  } catch {
    return null;
  }
}

/**
 * The agent the lower panels show: the one in the URL hash if it exists, else the first one.
 *
 * @param {AgentRow[]} rows
 * @returns {string | null}
 */
function selectedAgent(rows) {
  const asked = selectedFromHash();
  if (asked !== null && rows.some((r) => r.name === asked)) return asked;
  return rows[0]?.name ?? null;
}

/** @param {string} name */
function select(name) {
  location.hash = `agent=${encodeURIComponent(name)}`;
}

// -------------------------------------------------------------------------------------------- live agents

/**
 * One row per agent: `/v1/agents` when it answered, else what `/health` knows (no seq or state size).
 *
 * @param {any} health
 * @param {any} list
 * @returns {AgentRow[]}
 */
function agentRows(health, list) {
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
      shadows: Number(known?.shadows ?? a.shadows ?? 0),
      restarts: Number(known?.restarts ?? a.restarts ?? 0),
      doc: typeof a.doc === "string" ? a.doc : "",
    });
  }
  return [...rows.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * @param {AgentRow[]} rows
 * @param {string | null} selected
 */
function drawAgents(rows, selected) {
  const tbody = /** @type {HTMLElement} */ (byId("agents").querySelector("tbody"));
  if (rows.length === 0) {
    fill(tbody, h("tr", {}, h("td", { colspan: 10, class: "muted" }, "No agents registered.")));
    return;
  }
  const win = state.window?.agents ?? {};
  fill(
    tbody,
    rows.map((r) => {
      const w = win[r.name];
      const button = h("button", { type: "button", class: "link", title: r.doc || null }, r.name);
      button.addEventListener("click", () => select(r.name));
      return h(
        "tr",
        { "data-agent": r.name, class: r.name === selected ? "selected" : null },
        h("td", { "data-col": "name" }, button),
        h("td", { "data-col": "version", class: "mono" }, r.version),
        h("td", { "data-col": "status" }, badge(r.status)),
        h("td", { "data-col": "seq", class: "n" }, r.seq === null ? "–" : num(r.seq)),
        h("td", { "data-col": "state", class: "n" }, size(r.state_bytes)),
        h("td", { "data-col": "shadows", class: "n" }, num(r.shadows)),
        h("td", { "data-col": "restarts", class: "n" }, num(r.restarts)),
        h("td", { "data-col": "rate", class: "n" }, w ? num(w.rate) : "–"),
        h("td", { "data-col": "p99", class: "n" }, w ? duration(w.p99_ms) : "–"),
        h("td", { "data-col": "errors", class: "n" }, w ? num(w.error_rate) : "–"),
      );
    }),
  );
}

// ---------------------------------------------------------------------------------- overview and traffic

/**
 * @param {any} health
 * @param {unknown} error
 */
function drawHeader(health, error) {
  const el = byId("server-status");
  const status = error ? "unreachable" : String(health?.status ?? "unknown");
  el.dataset.status = STATUSES.has(status) ? status : "unknown";
  el.textContent = status;
  byId("uptime").textContent = error ? "–" : uptime(health?.uptime_s);
  byId("updated").textContent = new Date().toLocaleTimeString();
}

/** @param {AgentRow[]} rows */
function drawKpis(rows) {
  const w = state.window?.total;
  const ready = rows.filter((r) => r.status === "ready").length;
  byId("kpi-agents").textContent = `${ready} / ${rows.length}`;
  byId("kpi-rate").textContent = w ? num(w.rate) : "–";
  byId("kpi-p50").textContent = w ? duration(w.p50_ms) : "–";
  byId("kpi-p99").textContent = w ? duration(w.p99_ms) : "–";
  byId("kpi-errors").textContent = w ? num(w.error_rate) : "–";
  byId("kpi-shadows").textContent = num(rows.reduce((n, r) => n + r.shadows, 0));
  byId("kpi-restarts").textContent = num(rows.reduce((n, r) => n + r.restarts, 0));
  byId("kpi-rss").textContent = size(state.lastScrape?.rss_bytes);
}

/**
 * Takes a scrape of `/metrics`, computes the window since the previous one and adds it to the history.
 *
 * @param {string} text
 * @param {number} timeMs
 */
function takeScrape(text, timeMs) {
  const scrape = summarize(parsePrometheus(text), timeMs);
  const before = state.lastScrape;
  state.lastScrape = scrape;
  if (before === null || scrape.time_ms <= before.time_ms) return;
  state.window = between(before, scrape);
  const hist = state.history;
  hist.t.push(timeMs / 1000);
  hist.rate.push(state.window.total.rate);
  hist.errors.push(state.window.total.error_rate);
  hist.p50.push(state.window.total.p50_ms);
  hist.p99.push(state.window.total.p99_ms);
  if (hist.t.length > HISTORY_POINTS_MAX) {
    for (const series of Object.values(hist)) series.shift();
  }
}

/** @param {unknown} metricsError */
function drawTraffic(metricsError) {
  const note = byId("traffic-note");
  if (metricsError) {
    const needsToken = metricsError instanceof ApiError && metricsError.status === 401;
    note.textContent = needsToken
      ? "/metrics needs a token with the read scope."
      : `Cannot read /metrics: ${describe(metricsError)}`;
    return;
  }
  const hist = state.history;
  if (hist.t.length === 0) return;
  note.textContent = `Between scrapes every ${num(state.pollMs / 1000)} s; latency from the ` +
    "o_invoke_duration_seconds histogram.";
  const rate = [hist.t, hist.rate, hist.errors];
  const latency = [hist.t, hist.p50, hist.p99];
  if (state.charts.rate === null) {
    state.charts.rate = lineChart(byId("rate-chart"), {
      x: "time",
      yLabel: "requests / s",
      series: [{ label: "req/s", color: COLORS.blue, fill: true }, { label: "errors/s", color: COLORS.red }],
    }, rate);
    state.charts.latency = lineChart(byId("latency-chart"), {
      x: "time",
      yLabel: "latency ms",
      series: [{ label: "p50 ms", color: COLORS.green }, { label: "p99 ms", color: COLORS.amber }],
    }, latency);
  } else {
    state.charts.rate.setData(rate);
    state.charts.latency?.setData(latency);
  }
}

// ---------------------------------------------------------------------------------- crashes and recoveries

/**
 * @param {string} agent
 * @param {string} kind
 * @param {string} text
 * @param {number} now
 */
function addEvent(agent, kind, text, now) {
  state.events.unshift({ time_ms: now, agent, kind, text });
  if (state.events.length > EVENTS_MAX) state.events.length = EVENTS_MAX;
  if (kind === "crash") state.lastCrash.set(agent, now);
}

/**
 * Turns the difference between two `/health` answers into events: restarts (crashes), status changes
 * (recovered, failed), new versions and agents.
 *
 * @param {any} health
 * @param {number} now
 */
function trackHealth(health, now) {
  const agents = health?.agents && typeof health.agents === "object" ? health.agents : null;
  if (agents === null) return;
  const before = state.lastHealth;
  /** @type {Record<string, {status: string, restarts: number, version: string}>} */
  const next = {};
  for (const [name, a] of Object.entries(agents)) {
    const cur = {
      status: String(a?.status),
      restarts: Number(a?.restarts ?? 0),
      version: String(a?.version),
    };
    next[name] = cur;
    const old = before?.[name];
    if (old === undefined) {
      if (before !== null) addEvent(name, "info", `registered at version ${cur.version}`, now);
      else if (cur.restarts > 0) {
        addEvent(name, "info", `${cur.restarts} restarts before this page opened`, now);
      }
      continue;
    }
    if (cur.restarts > old.restarts) {
      const n = cur.restarts - old.restarts;
      addEvent(name, "crash", `sandbox crashed and was restarted${n > 1 ? ` ${n} times` : ""}`, now);
    }
    if (cur.status !== old.status) {
      const kind = cur.status === "ready" ? "recovered" : cur.status === "failed" ? "failed" : "status";
      addEvent(name, kind, `${old.status} → ${cur.status}`, now);
    }
    if (cur.version !== old.version) {
      addEvent(name, "version", `now serving ${cur.version} (was ${old.version})`, now);
    }
  }
  state.lastHealth = next;
}

/** @param {AgentRow[]} rows */
function drawCrashes(rows) {
  const metric = state.lastScrape?.agents ?? {};
  const tbody = /** @type {HTMLElement} */ (byId("restarts").querySelector("tbody"));
  fill(
    tbody,
    rows.map((r) =>
      h(
        "tr",
        { "data-agent": r.name },
        h("td", {}, r.name),
        h("td", {}, badge(r.status)),
        h("td", { class: "n", "data-col": "restarts" }, num(r.restarts)),
        h("td", { class: "n", "data-col": "metric" }, metric[r.name] ? num(metric[r.name].restarts) : "–"),
        h(
          "td",
          {},
          state.lastCrash.has(r.name) ? clock(/** @type {number} */ (state.lastCrash.get(r.name))) : "–",
        ),
      )
    ),
  );
  const list = byId("events");
  if (state.events.length === 0) {
    fill(list, h("li", { class: "muted" }, "none yet"));
    return;
  }
  fill(
    list,
    state.events.map((e) =>
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

// ------------------------------------------------------------------------------------------- candidates

/**
 * @param {string} agent
 * @param {any} record
 */
function candidateItem(agent, record) {
  const status = String(record?.status ?? "unknown");
  const evidence = record?.evidence;
  const reason = typeof evidence?.reason === "string" ? evidence.reason : null;
  const decidedIn = typeof record?.decided_ms === "number" && typeof record?.created_ms === "number"
    ? `decided in ${duration(record.decided_ms - record.created_ms)}`
    : status === "shadowing"
    ? "shadow running…"
    : "waiting";
  return h(
    "li",
    { class: "candidate", "data-candidate": String(record?.id ?? ""), "data-status": status },
    h(
      "div",
      { class: "candidate-head" },
      badge(status),
      h("span", { class: "mono" }, String(record?.id ?? "?")),
      h("span", { class: "muted" }, String(record?.operator ?? "")),
      h(
        "span",
        { class: "mono muted" },
        `${String(record?.parent ?? "?")} → ${String(record?.version ?? "?")}`,
      ),
      h("span", { class: "muted" }, `${clock(record?.created_ms)} · ${decidedIn}`),
    ),
    reason === null ? null : h("p", { class: "reason" }, reason),
    factList(evidenceFacts(evidence)),
    evidence ? rawDetails(`cand:${agent}:${record?.id}`, "evidence", evidence) : null,
  );
}

/**
 * @param {string} agent
 * @param {any} data
 * @param {unknown} error
 * @param {AgentRow | undefined} row
 */
function drawCandidates(agent, data, error, row) {
  const shadows = row?.shadows ?? 0;
  byId("shadow-line").textContent = `${num(shadows)} shadow${shadows === 1 ? "" : "s"} running for ${agent}.`;
  const el = byId("candidates");
  if (error) {
    fill(el, h("p", { class: "error" }, `Cannot read candidates: ${describe(error)}`));
    return;
  }
  const list = Array.isArray(data?.candidates) ? data.candidates : [];
  if (list.length === 0) {
    fill(el, h("p", { class: "muted empty" }, "No candidates yet."));
    return;
  }
  const newest = [...list].reverse().slice(0, CANDIDATES_SHOWN_MAX);
  fill(el, h("ol", { class: "candidates" }, newest.map((c) => candidateItem(agent, c))));
}

// -------------------------------------------------------------------------------------------- evolution

/**
 * The most recent run: the greatest `started_ms` (the array's order is not relied on).
 *
 * @param {any} data
 * @returns {any | null}
 */
function latestRun(data) {
  const runs = Array.isArray(data?.runs) ? data.runs.filter((r) => r && typeof r === "object") : [];
  if (runs.length === 0) return null;
  return runs.reduce((a, b) => (Number(b.started_ms) > Number(a.started_ms) ? b : a));
}

/** @param {any} run */
function fitnessSeries(run) {
  const gens = (Array.isArray(run?.generations) ? run.generations : [])
    .filter((g) => g && Number.isFinite(Number(g.generation)))
    .sort((a, b) => Number(a.generation) - Number(b.generation));
  /** @param {unknown} v */
  const val = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  return {
    gens,
    data: [
      gens.map((g) => Number(g.generation)),
      gens.map((g) => val(g.best_fitness)),
      gens.map((g) => val(g.mean_fitness)),
    ],
  };
}

/**
 * @param {any} data
 * @param {unknown} error
 */
function drawEvolution(data, error) {
  const el = byId("evolution");
  state.charts.fitness?.destroy();
  state.charts.fitness = null;
  const notFound = error instanceof ApiError && error.status === 404;
  if (error && !notFound) {
    fill(el, h("p", { class: "error" }, `Cannot read evolution runs: ${describe(error)}`));
    return;
  }
  const run = notFound ? null : latestRun(data);
  const { gens, data: series } = fitnessSeries(run);
  if (run === null || gens.length === 0) {
    fill(el, h("p", { id: "evolution-empty", class: "muted empty" }, "No evolution run yet."));
    return;
  }
  const last = gens.at(-1);
  const evals = gens.reduce((n, g) => n + (Number(g.evals) || 0), 0);
  const chart = h("div", { class: "chart", id: "fitness-chart" });
  fill(
    el,
    h(
      "div",
      { class: "run-head", "data-run": String(run.id ?? "") },
      h("span", { class: "mono" }, `run ${String(run.id ?? "?")}`),
      badge(String(run.status ?? "unknown")),
      h("span", { class: "muted" }, `started ${clock(run.started_ms)}`),
    ),
    factList([
      ["generations", num(gens.length)],
      ["best", num(last.best_fitness, 4)],
      ["mean", num(last.mean_fitness, 4)],
      ["evals", num(evals)],
      ["evals/s", num(last.evals_per_s)],
    ]),
    chart,
  );
  state.charts.fitness = lineChart(chart, {
    x: "number",
    xLabel: "generation",
    yLabel: "fitness",
    series: [
      { label: "best", color: COLORS.green, points: gens.length < 40 },
      { label: "mean", color: COLORS.blue, dash: true },
    ],
  }, series);
}

// --------------------------------------------------------------------------------------------- lineage

/**
 * @param {string} agent
 * @param {import("./lineage.js").Link} link
 */
function lineageNode(agent, link) {
  const e = link.entry;
  const decision = /** @type {any} */ (e.decision);
  const reason = typeof decision?.reason === "string" ? decision.reason : null;
  const live = e.live === true;
  return h(
    "li",
    { class: live ? "node live" : "node", "data-version": e.version, "data-live": live ? "true" : "false" },
    h(
      "div",
      { class: "node-head" },
      h("span", { class: "dot", "aria-hidden": "true" }),
      h("span", { class: "mono version" }, e.version),
      live ? h("span", { class: "badge", "data-status": "ready" }, "live") : null,
      h("span", { class: "tag" }, String(e.operator ?? "?")),
      typeof e.fitness === "number" ? h("span", { class: "muted" }, `fitness ${num(e.fitness, 4)}`) : null,
      e.candidate ? h("span", { class: "muted mono" }, String(e.candidate)) : null,
      h("span", { class: "muted" }, clock(/** @type {number} */ (e.created_ms))),
    ),
    reason === null ? null : h("p", { class: "reason" }, reason),
    factList(evidenceFacts(decision)),
    decision === undefined || decision === null
      ? null
      : rawDetails(`lineage:${agent}:${e.version}`, "decision evidence", decision),
    link.branches.length === 0
      ? null
      : h("div", { class: "branches" }, link.branches.map((b) => chainList(agent, b))),
  );
}

/**
 * @param {string} agent
 * @param {import("./lineage.js").Link[]} chain
 */
function chainList(agent, chain) {
  return h("ol", { class: "chain" }, chain.map((link) => lineageNode(agent, link)));
}

/**
 * @param {string} agent
 * @param {any} data
 * @param {unknown} error
 */
function drawLineage(agent, data, error) {
  const el = byId("lineage");
  if (error) {
    fill(el, h("p", { class: "error" }, `Cannot read the lineage: ${describe(error)}`));
    return;
  }
  const versions = Array.isArray(data?.versions) ? data.versions : [];
  if (versions.length === 0) {
    fill(el, h("p", { class: "muted empty" }, "No versions recorded."));
    return;
  }
  const onPath = livePath(versions, data?.live);
  const roots = buildTree(versions);
  fill(
    el,
    h(
      "p",
      { class: "muted" },
      `${num(versions.length)} versions; live: `,
      h("b", { class: "mono" }, String(data?.live ?? "–")),
    ),
    roots.map((root) => chainList(agent, chainOf(root, onPath))),
  );
}

// ------------------------------------------------------------------------------------------------- auth

/**
 * Shows the token form when `/v1` answers 401, and why a given token did not work.
 *
 * @param {unknown} listError The error of `GET /v1/agents`, if any.
 */
function drawAuth(listError) {
  const needed = listError instanceof ApiError && listError.status === 401;
  const forbidden = listError instanceof ApiError && listError.status === 403;
  const token = getToken();
  byId("auth").hidden = !needed;
  byId("auth-error").textContent = needed && token !== null ? "That token was refused (401)." : "";
  const status = byId("auth-status");
  if (token === null) {
    fill(status);
    return;
  }
  const forget = h("button", { type: "button", class: "link" }, "forget token");
  forget.addEventListener("click", () => {
    setToken(null);
    refreshNow();
  });
  fill(status, forbidden ? "token lacks the read scope · " : "token set · ", forget);
}

function bindAuthForm() {
  const form = /** @type {HTMLFormElement} */ (byId("auth-form"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = /** @type {HTMLInputElement} */ (byId("token-input"));
    const token = input.value.trim();
    input.value = "";
    if (token === "") return;
    setToken(token);
    refreshNow();
  });
}

// ------------------------------------------------------------------------------------------------ polling

/**
 * @param {PromiseSettledResult<any>} r
 * @returns {[any, unknown]}
 */
function settled(r) {
  return r.status === "fulfilled" ? [r.value, null] : [null, r.reason];
}

/**
 * An agent's evolution runs. After a 404 (no such route on this server, or the agent is gone) the same
 * answer stands for {@link EVOLUTION_RETRY_MS} instead of asking again on every poll.
 *
 * @param {string} agent
 * @returns {Promise<any>}
 */
async function evolutionRuns(agent) {
  const last = state.evolution;
  if (last !== null && last.agent === agent && Date.now() < last.retry_ms) throw last.error;
  try {
    return await getJson(agentPath(agent, "evolution"));
  } catch (e) {
    const missing = e instanceof ApiError && e.status === 404;
    state.evolution = missing ? { agent, error: e, retry_ms: Date.now() + EVOLUTION_RETRY_MS } : null;
    throw e;
  }
}

/**
 * Refreshes the panels of the selected agent.
 *
 * @param {AgentRow[]} rows
 * @param {string} agent
 */
async function refreshAgent(rows, agent) {
  const [candidates, lineage, evolution] = (await Promise.allSettled([
    getJson(agentPath(agent, "candidates")),
    getJson(agentPath(agent, "lineage")),
    evolutionRuns(agent),
  ])).map(settled);
  const row = rows.find((r) => r.name === agent);
  drawIfChanged(
    "candidates",
    [agent, row?.shadows, candidates, describe(candidates[1] ?? "")],
    () => drawCandidates(agent, candidates[0], candidates[1], row),
  );
  drawIfChanged(
    "lineage",
    [agent, lineage, describe(lineage[1] ?? "")],
    () => drawLineage(agent, lineage[0], lineage[1]),
  );
  drawIfChanged(
    "evolution",
    [agent, evolution, describe(evolution[1] ?? "")],
    () => drawEvolution(evolution[0], evolution[1]),
  );
}

/** @param {string} text */
function noAgentPanels(text) {
  for (const id of ["candidates", "lineage", "evolution"]) {
    drawIfChanged(id, text, () => fill(byId(id), h("p", { class: "muted empty" }, text)));
  }
  byId("shadow-line").textContent = "";
}

/** One poll: reads everything, then draws. */
async function tick() {
  const [[health, healthError], [list, listError], [metrics, metricsError]] = (await Promise.allSettled([
    getJson("/health"),
    getJson("/v1/agents"),
    getText("/metrics"),
  ])).map(settled);
  const now = Date.now();
  drawHeader(health, healthError);
  drawAuth(listError);
  if (metrics !== null) takeScrape(metrics, now);
  if (health !== null) trackHealth(health, now);
  const rows = agentRows(health, list);
  const agent = selectedAgent(rows);
  const agentsError = byId("agents-error");
  agentsError.hidden = listError === null || (listError instanceof ApiError && listError.status === 401);
  agentsError.textContent = listError
    ? `Cannot read /v1/agents (showing /health only): ${describe(listError)}`
    : "";
  drawAgents(rows, agent);
  drawKpis(rows);
  drawTraffic(metricsError);
  drawCrashes(rows);
  byId("selected-agent").textContent = agent ?? "–";
  const banner = byId("banner");
  banner.hidden = healthError === null;
  banner.textContent = healthError ? `The server does not answer: ${describe(healthError)}` : "";
  if (agent === null) noAgentPanels(listError ? "Needs access to /v1." : "No agent selected.");
  else if (listError instanceof ApiError && listError.status === 401) noAgentPanels("Needs a token.");
  else await refreshAgent(rows, agent);
}

async function loop() {
  clearTimeout(state.timer);
  if (state.running) return;
  state.running = true;
  try {
    await tick();
  } catch (e) {
    const banner = byId("banner");
    banner.hidden = false;
    banner.textContent = `Dashboard error: ${describe(e)}`;
    console.error(e);
  } finally {
    state.running = false;
    state.ticks++;
    document.body.dataset.ticks = String(state.ticks);
    state.timer = setTimeout(loop, state.pollMs);
  }
}

function refreshNow() {
  if (!state.running) loop();
  else setTimeout(refreshNow, 50);
}

bindAuthForm();
addEventListener("hashchange", refreshNow);
loop();
