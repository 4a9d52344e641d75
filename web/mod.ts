/**
 * The dashboard served by O at `GET /` and `GET /assets/*`: a static page that polls O's own API
 * (`/health`, `/metrics`, `/v1/agents`, and per agent its candidates, lineage and evolution runs) and
 * draws live agents, traffic, crashes and recoveries, candidates and shadows, the fitness of the latest
 * evolution run and the lineage tree. Plain HTML, CSS and JavaScript modules with no build step; charts
 * by npm `uplot` from node_modules.
 *
 * @example Routing the dashboard in a fetch handler
 * ```ts
 * import { dashboardResponse } from "./mod.ts";
 * const handler = (req: Request) =>
 *   dashboardResponse(new URL(req.url).pathname) ?? new Response("not found", { status: 404 });
 * const res = handler(new Request("http://localhost/"));
 * if (res.headers.get("content-type") !== "text/html; charset=utf-8") throw new Error("not the page");
 * await res.body?.cancel();
 * ```
 *
 * @module
 */
export {
  DASHBOARD_HEADERS,
  type DashboardAsset,
  dashboardAssets,
  dashboardResponse,
} from "./dashboard_assets.ts";
