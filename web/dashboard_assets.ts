/**
 * The dashboard's static files, keyed by the URL path the supervisor serves them at: the page, its
 * scripts and styles from `web/static/`, and the uPlot chart library from the project's `node_modules`
 * (npm `uplot`, pinned in deno.json). Nothing is built: the browser loads the files as they are.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** One file to serve. */
export interface DashboardAsset {
  body: Uint8Array | string;
  /** The Content-Type header. */
  type: string;
}

const STATIC_DIR = new URL("./static/", import.meta.url);
const NODE_MODULES = new URL("../node_modules/", import.meta.url);
/** The npm package of the charts and the files of it the page loads. */
const UPLOT_PACKAGE = "uplot";
const UPLOT_FILES: Record<string, string> = {
  "/assets/uplot.js": "dist/uPlot.iife.min.js",
  "/assets/uplot.css": "dist/uPlot.min.css",
};
/** The page's own files under `web/static/`, by URL path. */
const STATIC_FILES: Record<string, string> = {
  "/": "index.html",
  "/assets/agent.js": "agent.js",
  "/assets/api.js": "api.js",
  "/assets/app.js": "app.js",
  "/assets/charts.js": "charts.js",
  "/assets/dom.js": "dom.js",
  "/assets/format.js": "format.js",
  "/assets/lineage.js": "lineage.js",
  "/assets/live.js": "live.js",
  "/assets/prom.js": "prom.js",
  "/assets/style.css": "style.css",
  "/assets/view.js": "view.js",
};
const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/**
 * Headers every dashboard answer should carry: the page's content security policy (also set in a meta
 * tag, for servers that pass only the type), no sniffing, no framing, no referrer, and revalidation so a
 * new release is picked up at once.
 */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
});

let cached: Map<string, DashboardAsset> | undefined;

function typeOf(file: string): string {
  const type = TYPES[file.slice(file.lastIndexOf(".") + 1)];
  if (type === undefined) throw new TypeError(`Cannot serve dashboard file: unknown type of '${file}'`);
  return type;
}

function readUplot(file: string): Uint8Array {
  const url = new URL(`${UPLOT_PACKAGE}/${file}`, NODE_MODULES);
  try {
    return Deno.readFileSync(url);
  } catch (e) {
    throw new Error(
      `Cannot serve the dashboard: ${fileURLToPath(url)} is missing; run 'deno install' so npm ` +
        `'${UPLOT_PACKAGE}' (pinned in deno.json) is in node_modules`,
      { cause: e },
    );
  }
}

/**
 * The dashboard's files by URL path (`/`, `/assets/app.js`, `/assets/uplot.js`, …), read once and then
 * served from memory.
 *
 * @returns The assets; the same map on every call.
 * @throws {Error} When a file is missing, the chart library included: a dashboard without charts should
 * fail the start, not show a broken page.
 *
 * @example Serving the page
 * ```ts
 * import { dashboardAssets } from "./mod.ts";
 * const page = dashboardAssets().get("/");
 * if (page === undefined || !page.type.startsWith("text/html")) throw new Error("no page");
 * ```
 */
export function dashboardAssets(): Map<string, DashboardAsset> {
  if (cached !== undefined) return cached;
  const assets = new Map<string, DashboardAsset>();
  for (const [path, file] of Object.entries(STATIC_FILES)) {
    assets.set(path, { body: Deno.readFileSync(new URL(file, STATIC_DIR)), type: typeOf(file) });
  }
  for (const [path, file] of Object.entries(UPLOT_FILES)) {
    assets.set(path, { body: readUplot(file), type: typeOf(file) });
  }
  cached = assets;
  return assets;
}

/**
 * The answer for a dashboard path, with {@link DASHBOARD_HEADERS}, or `null` when the path is not one of
 * the dashboard's (the caller answers 404).
 *
 * @param pathname The URL path, e.g. `/` or `/assets/app.js`.
 * @returns A 200 response, or `null`.
 *
 * @example
 * ```ts
 * import { dashboardResponse } from "./mod.ts";
 * const res = dashboardResponse("/assets/app.js");
 * if (res === null || res.status !== 200) throw new Error("no script");
 * if (dashboardResponse("/assets/nope.js") !== null) throw new Error("unexpected file");
 * ```
 */
export function dashboardResponse(pathname: string): Response | null {
  const asset = dashboardAssets().get(pathname);
  if (asset === undefined) return null;
  const body = typeof asset.body === "string" ? asset.body : asset.body.slice();
  return new Response(body, { headers: { ...DASHBOARD_HEADERS, "content-type": asset.type } });
}
