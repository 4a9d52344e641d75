// @ts-check
/// <reference lib="dom" />
/**
 * The panels of the selected agent: candidates and shadows, the fitness of its latest evolution run, and
 * its lineage tree with decision evidence. Each is redrawn only when its data changed.
 *
 * @module
 */
import { agentPath, ApiError, getJson } from "./api.js";
import { COLORS, lineChart } from "./charts.js";
import { byId, fill, h } from "./dom.js";
import { duration, evidenceFacts, num } from "./format.js";
import { buildTree, chainOf, livePath } from "./lineage.js";
import { badge, clock, describe, drawIfChanged, emptyNote, factList, rawDetails } from "./view.js";

/** How long a 404 from an agent's evolution route is believed before asking again. */
const EVOLUTION_RETRY_MS = 15_000;
/** Candidates listed (newest first). */
const CANDIDATES_SHOWN_MAX = 50;
/** Up to this many generations, the best-fitness line marks each point. */
const GENERATION_POINTS_MAX = 40;

/**
 * The shape of `GET /v1/agents/{name}/evolution` (untrusted: every field is checked before use).
 *
 * @typedef {{ generation: number, best_fitness: number, mean_fitness: number, evals: number,
 *   evals_per_s: number }} Generation
 * @typedef {{ id: string, started_ms: number, status: string, generations: Generation[] }} Run
 */

const panels = {
  /** @type {{ agent: string, error: unknown, retry_ms: number } | null} The last 404 of the evolution route. */
  evolutionMissing: null,
  /** @type {import("./charts.js").Chart | null} */
  fitnessChart: null,
};

/**
 * @param {string} agent
 * @param {any} record
 * @returns {HTMLElement}
 */
function candidateItem(agent, record) {
  const status = String(record?.status ?? "unknown");
  const evidence = record?.evidence;
  const reason = typeof evidence?.reason === "string" ? evidence.reason : null;
  const decided = typeof record?.decided_ms === "number" && typeof record?.created_ms === "number";
  const progress = decided
    ? `decided in ${duration(record.decided_ms - record.created_ms)}`
    : status === "shadowing"
    ? "shadow at work…"
    : "waiting";
  return h(
    "li",
    { class: "candidate", "data-candidate": String(record?.id ?? ""), "data-status": status },
    h(
      "div",
      { class: "candidate-head" },
      badge(status),
      h("span", { class: "mono" }, String(record?.id ?? "?")),
      h("span", { class: "tag" }, String(record?.operator ?? "?")),
      h(
        "span",
        { class: "mono muted" },
        `${String(record?.parent ?? "?")} → ${String(record?.version ?? "?")}`,
      ),
      h("span", { class: "muted" }, `${clock(record?.created_ms)} · ${progress}`),
    ),
    reason === null ? null : h("p", { class: "reason" }, reason),
    factList(evidenceFacts(evidence)),
    evidence ? rawDetails(`candidate:${agent}:${record?.id}`, "evidence", evidence) : null,
  );
}

/**
 * @param {string} agent
 * @param {any} data
 * @param {unknown} error
 * @param {number} shadows Shadows running for the agent (from `/health`).
 */
function drawCandidates(agent, data, error, shadows) {
  byId("shadow-line").textContent = `${num(shadows)} shadow${shadows === 1 ? "" : "s"} at work for ${agent}.`;
  const el = byId("candidates");
  if (error) {
    fill(el, h("p", { class: "error" }, `Cannot read candidates: ${describe(error)}`));
    return;
  }
  const list = Array.isArray(data?.candidates) ? data.candidates : [];
  if (list.length === 0) {
    fill(el, emptyNote("No candidates yet."));
    return;
  }
  const newest = [...list].reverse().slice(0, CANDIDATES_SHOWN_MAX);
  fill(el, h("ol", { class: "candidates" }, newest.map((c) => candidateItem(agent, c))));
}

/**
 * The most recent run: the greatest `started_ms` (the array's order is not relied on).
 *
 * @param {any} data
 * @returns {Run | null}
 */
export function latestRun(data) {
  /** @type {Run[]} */
  const runs = Array.isArray(data?.runs)
    ? data.runs.filter((/** @type {unknown} */ r) => r && typeof r === "object")
    : [];
  if (runs.length === 0) return null;
  return runs.reduce((a, b) => (Number(b.started_ms) > Number(a.started_ms) ? b : a));
}

/**
 * A run's generations in order, and the chart's data: generation, best fitness, mean fitness.
 *
 * @param {Run | null} run
 * @returns {{ generations: Generation[], data: (number | null)[][] }}
 */
export function fitnessSeries(run) {
  /** @type {Generation[]} */
  const generations = (Array.isArray(run?.generations) ? run.generations : [])
    .filter((g) => g && Number.isFinite(Number(g.generation)))
    .sort((a, b) => Number(a.generation) - Number(b.generation));
  /** @param {unknown} v */
  const val = (v) => (typeof v === "number" && Number.isFinite(v) ? v : null);
  return {
    generations,
    data: [
      generations.map((g) => Number(g.generation)),
      generations.map((g) => val(g.best_fitness)),
      generations.map((g) => val(g.mean_fitness)),
    ],
  };
}

/**
 * @param {Run} run
 * @returns {HTMLElement}
 */
function runHead(run) {
  return h(
    "div",
    { class: "run-head", "data-run": String(run.id ?? "") },
    h("span", { class: "mono" }, `run ${String(run.id ?? "?")}`),
    badge(String(run.status ?? "unknown")),
    h("span", { class: "muted" }, `started ${clock(run.started_ms)}`),
  );
}

/**
 * The latest generation's figures; `evals` is summed over the generations (each counts its own).
 *
 * @param {Generation[]} generations At least one.
 * @returns {HTMLElement | null}
 */
function runFacts(generations) {
  const last = generations[generations.length - 1];
  const evals = generations.reduce((n, g) => n + (Number(g.evals) || 0), 0);
  return factList([
    ["generations", num(generations.length)],
    ["best", num(last.best_fitness, 4)],
    ["mean", num(last.mean_fitness, 4)],
    ["evals", num(evals)],
    ["evals/s", num(last.evals_per_s)],
  ]);
}

/**
 * @param {any} data
 * @param {unknown} error
 */
function drawEvolution(data, error) {
  const el = byId("evolution");
  panels.fitnessChart?.destroy();
  panels.fitnessChart = null;
  const notFound = error instanceof ApiError && error.status === 404;
  if (error && !notFound) {
    fill(el, h("p", { class: "error" }, `Cannot read evolution runs: ${describe(error)}`));
    return;
  }
  const run = notFound ? null : latestRun(data);
  const { generations, data: series } = fitnessSeries(run);
  if (run === null) {
    fill(el, emptyNote("No evolution run yet.", "evolution-empty"));
    return;
  }
  if (generations.length === 0) {
    fill(el, runHead(run), emptyNote("No generation finished yet.", "evolution-waiting"));
    return;
  }
  const chart = h("div", {
    class: "chart",
    id: "fitness-chart",
    role: "img",
    "aria-label": "fitness by generation",
  });
  fill(el, runHead(run), runFacts(generations), chart);
  panels.fitnessChart = lineChart(chart, {
    x: "number",
    xLabel: "generation",
    yLabel: "fitness",
    series: [
      { label: "best", color: COLORS.green, points: generations.length <= GENERATION_POINTS_MAX },
      { label: "mean", color: COLORS.blue, dash: true },
    ],
  }, series);
}

/**
 * @param {string} agent
 * @param {import("./lineage.js").Link} link
 * @returns {HTMLElement}
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
      h("span", { class: "muted" }, clock(e.created_ms)),
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
 * @returns {HTMLElement}
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
    fill(el, emptyNote("No versions recorded."));
    return;
  }
  const roots = buildTree(versions);
  const onPath = livePath(versions, data?.live);
  fill(
    el,
    h(
      "p",
      { class: "muted" },
      `${num(versions.length)} version${versions.length === 1 ? "" : "s"}; live: `,
      h("b", { class: "mono" }, String(data?.live ?? "–")),
    ),
    roots.map((root) => chainList(agent, chainOf(root, onPath))),
  );
}

/**
 * An agent's evolution runs. After a 404 (no such route on this server, or the agent is gone) that answer
 * stands for {@link EVOLUTION_RETRY_MS} instead of being asked for again on every poll.
 *
 * @param {string} agent
 * @returns {Promise<any>}
 */
async function evolutionRuns(agent) {
  const missing = panels.evolutionMissing;
  if (missing !== null && missing.agent === agent && Date.now() < missing.retry_ms) throw missing.error;
  try {
    return await getJson(agentPath(agent, "evolution"));
  } catch (e) {
    const notFound = e instanceof ApiError && e.status === 404;
    panels.evolutionMissing = notFound
      ? { agent, error: e, retry_ms: Date.now() + EVOLUTION_RETRY_MS }
      : null;
    throw e;
  }
}

/**
 * @param {PromiseSettledResult<any>} r
 * @returns {[any, unknown]}
 */
function settled(r) {
  return r.status === "fulfilled" ? [r.value, null] : [null, r.reason];
}

/**
 * Reads and draws the panels of one agent.
 *
 * @param {string} agent
 * @param {number} shadows Shadows running for it (from `/health`).
 */
export async function refreshAgent(agent, shadows) {
  const [candidates, lineage, evolution] = (await Promise.allSettled([
    getJson(agentPath(agent, "candidates")),
    getJson(agentPath(agent, "lineage")),
    evolutionRuns(agent),
  ])).map(settled);
  drawIfChanged("candidates", [agent, shadows, candidates], () => {
    drawCandidates(agent, candidates[0], candidates[1], shadows);
  });
  drawIfChanged("lineage", [agent, lineage], () => drawLineage(agent, lineage[0], lineage[1]));
  drawIfChanged("evolution", [agent, evolution], () => drawEvolution(evolution[0], evolution[1]));
}

/**
 * Puts a message in place of the agent panels (no agent, or no access).
 *
 * @param {string} text
 */
export function clearAgent(text) {
  for (const id of ["candidates", "lineage", "evolution"]) {
    drawIfChanged(id, text, () => {
      if (id === "evolution") {
        panels.fitnessChart?.destroy();
        panels.fitnessChart = null;
      }
      fill(byId(id), emptyNote(text));
    });
  }
  byId("shadow-line").textContent = "";
}
