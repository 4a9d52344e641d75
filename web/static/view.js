// @ts-check
/// <reference lib="dom" />
/**
 * Small view pieces shared by the panels: status badges, times, error text, fact lists, raw-evidence
 * blocks that stay open across redraws, and redraw-only-on-change.
 *
 * @module
 */
import { ApiError } from "./api.js";
import { h } from "./dom.js";
import { rawJson } from "./format.js";

/** Statuses with their own colour; anything else is drawn as "unknown" (a value from the server is never
 * used as a class or selector, only as the text and a whitelisted data attribute). */
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

/** What each panel last drew (its data as JSON), so an unchanged panel is left alone. */
const drawn = new Map();
/** Evidence blocks the user opened, by key, kept open when their panel is redrawn. */
const opened = new Set();

/**
 * The status name to colour by: itself when known, else "unknown".
 *
 * @param {unknown} status
 * @returns {string}
 */
export function statusKey(status) {
  const s = String(status);
  return STATUSES.has(s) ? s : "unknown";
}

/**
 * @param {unknown} status
 * @returns {HTMLElement}
 */
export function badge(status) {
  return h("span", { class: "badge", "data-status": statusKey(status) }, String(status));
}

/**
 * A wall-clock time (with the date when it is not today).
 *
 * @param {unknown} ms Epoch milliseconds.
 * @returns {string}
 */
export function clock(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "–";
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString() : d.toLocaleString();
}

/**
 * An error as one line: status, O's error code and message for API errors.
 *
 * @param {unknown} e
 * @returns {string}
 */
export function describe(e) {
  if (e instanceof ApiError) return e.status > 0 ? `${e.status} ${e.code}: ${e.message}` : e.message;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs `draw` only when `data` differs from what the panel `key` last drew.
 *
 * @param {string} key
 * @param {unknown} data
 * @param {() => void} draw
 */
export function drawIfChanged(key, data, draw) {
  const signature = JSON.stringify(data, (_k, v) => (v instanceof Error ? describe(v) : v));
  if (drawn.get(key) === signature) return;
  drawn.set(key, signature);
  draw();
}

/**
 * A collapsible block with a value as indented JSON, whose open state survives redraws.
 *
 * @param {string} key Unique across the page.
 * @param {string} summary
 * @param {unknown} value
 * @returns {HTMLElement}
 */
export function rawDetails(key, summary, value) {
  const details = h("details", { class: "raw" }, h("summary", {}, summary), h("pre", {}, rawJson(value)));
  if (opened.has(key)) details.setAttribute("open", "");
  details.addEventListener("toggle", () => {
    if (/** @type {HTMLDetailsElement} */ (details).open) opened.add(key);
    else opened.delete(key);
  });
  return details;
}

/**
 * Label/value pairs as a row of chips, or `null` when there are none.
 *
 * @param {[string, string][]} facts
 * @returns {HTMLElement | null}
 */
export function factList(facts) {
  if (facts.length === 0) return null;
  return h(
    "ul",
    { class: "facts" },
    facts.map(([k, v]) => h("li", {}, h("span", { class: "fact-key" }, k), " ", h("b", {}, v))),
  );
}

/**
 * A centred, muted message for an empty panel.
 *
 * @param {string} text
 * @param {string} [id]
 * @returns {HTMLElement}
 */
export function emptyNote(text, id) {
  return h("p", { class: "muted empty", id }, text);
}
