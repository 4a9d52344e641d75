// @ts-check
/// <reference lib="dom" />
/**
 * The dashboard's entry: polls O's own API (same origin) and hands the answers to the panels — live agents,
 * traffic, crashes and recoveries (live.js), and for the selected agent its candidates, evolution fitness
 * and lineage (agent.js). Asks for a bearer token when `/v1` answers 401. Everything the server sends is
 * untrusted and reaches the page only as text (dom.js).
 *
 * `?poll=MS` sets the poll period; `#agent=NAME` selects an agent. `document.body.dataset.ticks` counts
 * finished polls (tests wait on it).
 *
 * @module
 */
import { clearAgent, refreshAgent } from "./agent.js";
import { ApiError, getJson, getText, getToken, setToken } from "./api.js";
import { byId, fill, h } from "./dom.js";
import { uptime } from "./format.js";
import {
  agentRows,
  drawAgents,
  drawCrashes,
  drawKpis,
  drawTraffic,
  takeScrape,
  trackHealth,
} from "./live.js";
import { describe, statusKey } from "./view.js";

/** Default poll period; `?poll=MS` overrides it within the bounds below. */
const POLL_MS_DEFAULT = 2000;
const POLL_MS_MIN = 250;
const POLL_MS_MAX = 60_000;
/** While a poll runs, a request for another one is retried this often. */
const REFRESH_RETRY_MS = 50;

const app = {
  pollMs: pollPeriod(),
  ticks: 0,
  running: false,
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  timer: undefined,
};

/** @returns {number} */
function pollPeriod() {
  const asked = Number(new URLSearchParams(location.search).get("poll"));
  if (!Number.isFinite(asked) || asked <= 0) return POLL_MS_DEFAULT;
  return Math.min(POLL_MS_MAX, Math.max(POLL_MS_MIN, Math.round(asked)));
}

/** @returns {string | null} The agent named in the URL hash (`#agent=NAME`). */
function agentInHash() {
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
 * @param {import("./live.js").AgentRow[]} rows
 * @returns {string | null}
 */
function selectedAgent(rows) {
  const asked = agentInHash();
  if (asked !== null && rows.some((r) => r.name === asked)) return asked;
  return rows[0]?.name ?? null;
}

/** @param {string} name */
function select(name) {
  location.hash = `agent=${encodeURIComponent(name)}`;
}

/**
 * @param {any} health
 * @param {unknown} error
 */
function drawHeader(health, error) {
  const el = byId("server-status");
  const status = error ? "unreachable" : String(health?.status ?? "unknown");
  el.dataset.status = statusKey(status);
  el.textContent = status;
  byId("uptime").textContent = error ? "–" : uptime(health?.uptime_s);
  byId("updated").textContent = new Date().toLocaleTimeString();
  const banner = byId("banner");
  banner.hidden = !error;
  banner.textContent = error ? `The server does not answer: ${describe(error)}` : "";
}

/**
 * Shows the token form while `/v1` answers 401, says why a token did not work, and offers to forget it.
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
  const forget = h("button", { type: "button", class: "link", id: "forget-token" }, "forget token");
  forget.addEventListener("click", () => {
    setToken(null);
    refreshNow();
  });
  fill(status, forbidden ? "token lacks the read scope · " : "token set · ", forget);
}

function bindAuthForm() {
  byId("auth-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = /** @type {HTMLInputElement} */ (byId("token-input"));
    const token = input.value.trim();
    input.value = "";
    if (token === "") return;
    setToken(token);
    refreshNow();
  });
}

/**
 * @param {PromiseSettledResult<any>} r
 * @returns {[any, unknown]}
 */
function settled(r) {
  return r.status === "fulfilled" ? [r.value, null] : [null, r.reason];
}

/** One poll: reads the server-wide routes, draws, then refreshes the selected agent's panels. */
async function tick() {
  const [[health, healthError], [list, listError], [metrics, metricsError]] = (await Promise.allSettled([
    getJson("/health"),
    getJson("/v1/agents"),
    getText("/metrics"),
  ])).map(settled);
  const now = Date.now();
  const unauthorized = listError instanceof ApiError && listError.status === 401;
  drawHeader(health, healthError);
  drawAuth(listError);
  if (metrics !== null) takeScrape(metrics, now);
  if (health !== null) trackHealth(health, now);
  const rows = agentRows(health, list);
  const agent = selectedAgent(rows);
  const agentsError = byId("agents-error");
  agentsError.hidden = listError === null || unauthorized;
  agentsError.textContent = listError
    ? `Cannot read /v1/agents (showing /health only): ${describe(listError)}`
    : "";
  drawAgents(rows, agent, select);
  drawKpis(rows);
  drawTraffic(metricsError, app.pollMs);
  drawCrashes(rows);
  byId("selected-agent").textContent = agent ?? "–";
  if (agent === null) clearAgent(listError ? "Needs access to /v1." : "No agent selected.");
  else if (unauthorized) clearAgent("Needs a token.");
  else await refreshAgent(agent, rows.find((r) => r.name === agent)?.shadows ?? 0);
}

/** Polls once, then schedules the next poll; a failed poll shows its error and polling goes on. */
async function loop() {
  clearTimeout(app.timer);
  if (app.running) return;
  if (document.hidden) {
    // A tab nobody looks at does not poll; it catches up when it is shown again.
    app.timer = setTimeout(loop, app.pollMs);
    return;
  }
  app.running = true;
  try {
    await tick();
  } catch (e) {
    const banner = byId("banner");
    banner.hidden = false;
    banner.textContent = `Dashboard error: ${describe(e)}`;
    console.error(e);
  } finally {
    app.running = false;
    app.ticks++;
    document.body.dataset.ticks = String(app.ticks);
    app.timer = setTimeout(loop, app.pollMs);
  }
}

/** Polls as soon as the running poll (if any) is done. */
function refreshNow() {
  if (app.running) setTimeout(refreshNow, REFRESH_RETRY_MS);
  else loop();
}

bindAuthForm();
addEventListener("hashchange", refreshNow);
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) refreshNow();
});
loop();
