// @ts-check
/// <reference lib="dom" />
/**
 * Line charts on uPlot (served from the project's node_modules as `/assets/uplot.js`, a classic script that
 * defines the global `uPlot`). A chart follows its container's width.
 *
 * @module
 */

/** Chart height in CSS pixels. */
const CHART_HEIGHT_PX = 190;

/** Tick steps of a time axis in seconds (whole seconds, so two ticks never print the same time). */
const TIME_INCREMENTS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 86400];

/** Tick steps of a counting axis (generations): whole numbers only. */
const COUNT_INCREMENTS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000];

/** Series colours (kept in step with the CSS variables of the same names). */
export const COLORS = {
  blue: "#2563eb",
  red: "#dc2626",
  green: "#16a34a",
  amber: "#d97706",
  violet: "#7c3aed",
};

/**
 * @typedef {{ label: string, color: string, fill?: boolean, dash?: boolean, points?: boolean }} SeriesSpec
 * @typedef {{ x: "time" | "number", xLabel?: string, yLabel?: string, yFromZero?: boolean,
 *   series: SeriesSpec[] }} ChartSpec
 * @typedef {{ setData(data: (number | null)[][]): void, destroy(): void }} Chart
 */

/**
 * Time-axis tick labels as wall-clock times (uPlot's default shows fractions of seconds on short ranges).
 *
 * @param {unknown} _plot
 * @param {number[]} ticks Epoch seconds.
 * @returns {string[]}
 */
function clockValues(_plot, ticks) {
  return ticks.map((t) =>
    new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })
  );
}

/**
 * A y range from 0 to a little above the largest value (0 to 1 when there is no value yet), so rates and
 * latencies keep their axis and their baseline.
 *
 * @param {unknown} _plot
 * @param {number | null} _min
 * @param {number | null} max
 * @returns {[number, number]}
 */
function fromZero(_plot, _min, max) {
  return [0, typeof max === "number" && max > 0 ? max * 1.1 : 1];
}

/** @returns {any} */
function uPlotClass() {
  const u = /** @type {any} */ (globalThis).uPlot;
  if (typeof u !== "function") throw new Error("Cannot draw charts: /assets/uplot.js did not load");
  return u;
}

/**
 * @param {string} color
 * @param {number} alpha
 * @returns {string}
 */
function withAlpha(color, alpha) {
  const n = Number.parseInt(color.slice(1), 16);
  return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${alpha})`;
}

/**
 * Creates a chart inside `el` (emptied first).
 *
 * @param {HTMLElement} el
 * @param {ChartSpec} spec
 * @param {(number | null)[][]} data The x values, then one array per series.
 * @returns {Chart}
 */
export function lineChart(el, spec, data) {
  const UPlot = uPlotClass();
  if (data.length !== spec.series.length + 1) {
    throw new RangeError(
      `Cannot draw chart: ${spec.series.length} series but ${data.length - 1} data arrays`,
    );
  }
  const axis = { stroke: "#6b7280", grid: { stroke: "#eceef2", width: 1 }, ticks: { stroke: "#d6d9de" } };
  const time = spec.x === "time";
  /** @type {Record<string, unknown>[]} */
  const axes = [
    time
      ? { ...axis, space: 80, incrs: TIME_INCREMENTS_S, values: clockValues }
      : { ...axis, space: 40, incrs: COUNT_INCREMENTS },
    { ...axis, size: 56 },
  ];
  if (spec.xLabel) Object.assign(axes[0], { label: spec.xLabel, labelSize: 18 });
  if (spec.yLabel) Object.assign(axes[1], { label: spec.yLabel, labelSize: 18 });
  const series = [
    { label: spec.xLabel ?? (time ? "time" : "x") },
    ...spec.series.map((s) => {
      /** @type {Record<string, unknown>} */
      const one = { label: s.label, stroke: s.color, width: 2, points: { show: s.points ?? false } };
      if (s.dash) one.dash = [6, 4];
      if (s.fill) one.fill = withAlpha(s.color, 0.08);
      return one;
    }),
  ];
  el.replaceChildren();
  const width = Math.max(240, el.clientWidth);
  const plot = new UPlot(
    {
      width,
      height: CHART_HEIGHT_PX,
      padding: [12, 28, 0, 0],
      scales: spec.yFromZero ? { x: { time }, y: { range: fromZero } } : { x: { time } },
      axes,
      series,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    },
    data,
    el,
  );
  const resize = new ResizeObserver(() => {
    const w = Math.max(240, el.clientWidth);
    if (Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height: CHART_HEIGHT_PX });
  });
  resize.observe(el);
  return {
    setData: (next) => plot.setData(next),
    destroy: () => (resize.disconnect(), plot.destroy()),
  };
}
