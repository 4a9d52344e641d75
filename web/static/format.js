// @ts-check
/**
 * Formatting of numbers, durations, sizes and decision evidence for display. Pure functions over untrusted
 * values: anything of an unexpected type prints as "–" rather than throwing.
 *
 * @module
 */

const DASH = "–";

/**
 * A number with a fitting count of decimals, or a dash.
 *
 * @param {unknown} n
 * @param {number} [digits] Significant decimals for small values.
 * @returns {string}
 */
export function num(n, digits = 2) {
  if (typeof n !== "number" || !Number.isFinite(n)) return DASH;
  const abs = Math.abs(n);
  if (abs >= 100 || Number.isInteger(n)) return Math.round(n).toLocaleString("en-US");
  if (abs >= 10) return n.toFixed(1);
  return n.toFixed(digits);
}

/**
 * Milliseconds, switching to µs below 1 ms and to s from 1 s.
 *
 * @param {unknown} ms
 * @returns {string}
 */
export function duration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return DASH;
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms >= 1000) return `${num(ms / 1000)} s`;
  return `${num(ms)} ms`;
}

/**
 * @param {unknown} bytes
 * @returns {string}
 */
export function size(bytes) {
  if (typeof bytes !== "number" || !Number.isFinite(bytes) || bytes < 0) return DASH;
  const units = ["B", "KiB", "MiB", "GiB"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) (v /= 1024, u++);
  return u === 0 ? `${v} B` : `${v.toFixed(v >= 100 ? 0 : 1)} ${units[u]}`;
}

/**
 * "12 s ago", "3 min ago", … relative to `now`.
 *
 * @param {unknown} ms Epoch milliseconds.
 * @param {number} now
 * @returns {string}
 */
export function ago(ms, now) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return DASH;
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/**
 * Seconds as "1 h 2 min", "3 min 4 s" or "5 s".
 *
 * @param {unknown} s
 * @returns {string}
 */
export function uptime(s) {
  if (typeof s !== "number" || !Number.isFinite(s) || s < 0) return DASH;
  const d = Math.floor(s / 86400);
  const hr = Math.floor((s % 86400) / 3600);
  const min = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  if (d > 0) return `${d} d ${hr} h`;
  if (hr > 0) return `${hr} h ${min} min`;
  if (min > 0) return `${min} min ${sec} s`;
  return `${sec} s`;
}

/**
 * The facts of a decision worth a glance, as label/value pairs, in a fixed order; unknown or missing
 * fields are left out (the whole evidence is shown raw next to them).
 *
 * @param {unknown} evidence
 * @returns {[string, string][]}
 */
export function evidenceFacts(evidence) {
  if (evidence === null || typeof evidence !== "object" || Array.isArray(evidence)) return [];
  const e = /** @type {Record<string, unknown>} */ (evidence);
  /** @type {[string, string][]} */
  const facts = [];
  const add = (/** @type {string} */ label, /** @type {unknown} */ value, digits = 3) => {
    if (typeof value === "number" && Number.isFinite(value)) facts.push([label, num(value, digits)]);
    else if (typeof value === "string" && value.length > 0) facts.push([label, value]);
  };
  add("stage", e.stage);
  add("cases", e.cases);
  add("failures", e.failures);
  add("regressions", e.regressions);
  add("mismatches", e.mismatches);
  add("metric", e.metric);
  if (typeof e.p_value === "number" && e.p_value > 0 && e.p_value < 1e-4) {
    facts.push(["p", e.p_value.toExponential(1)]);
  } else add("p", e.p_value, 4);
  add("effect", e.effect_size);
  add("latency ×", e.latency_ratio);
  add("A/A ×", e.aa_ratio);
  const shadow = e.shadow;
  if (shadow !== null && typeof shadow === "object" && !Array.isArray(shadow)) {
    const s = /** @type {Record<string, unknown>} */ (shadow);
    if (typeof s.compared === "number") {
      facts.push([
        "shadow",
        `${num(s.compared)} compared, ${num(s.mismatches)} differed, ${num(s.errors)} failed`,
      ]);
    }
  }
  return facts;
}

/**
 * Evidence as indented JSON for the "raw" view, cut at `charsMax`.
 *
 * @param {unknown} value
 * @param {number} [charsMax]
 * @returns {string}
 */
export function rawJson(value, charsMax = 8000) {
  let text;
  try {
    text = JSON.stringify(value, null, 2) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > charsMax
    ? `${text.slice(0, charsMax)}\n… (${text.length - charsMax} more chars)`
    : text;
}
