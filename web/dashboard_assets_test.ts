/**
 * Goal: every file the page loads is served with the right type, the chart library comes from
 * node_modules, and the page refers to no asset that is not served and to nothing off-origin.
 * Method: dashboardAssets() and dashboardResponse() without a server.
 */
import { ok, strictEqual } from "node:assert";
import { DASHBOARD_HEADERS, dashboardAssets, dashboardResponse } from "./mod.ts";

const text = (body: Uint8Array | string) => typeof body === "string" ? body : new TextDecoder().decode(body);

Deno.test("dashboardAssets() serves the page, its modules and uPlot with fitting types", () => {
  const assets = dashboardAssets();
  strictEqual(assets.get("/")?.type, "text/html; charset=utf-8");
  strictEqual(assets.get("/assets/app.js")?.type, "text/javascript; charset=utf-8");
  strictEqual(assets.get("/assets/style.css")?.type, "text/css; charset=utf-8");
  ok(text(assets.get("/assets/uplot.js")!.body).includes("uPlot"), "uPlot comes from node_modules");
  strictEqual(dashboardAssets(), assets, "read once");
});

Deno.test("dashboardAssets(): every script, style and module import the page names is served", () => {
  const assets = dashboardAssets();
  const html = text(assets.get("/")!.body);
  const referenced = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
  for (const [path, asset] of assets) {
    if (!path.endsWith(".js") || path === "/assets/uplot.js") continue;
    for (const m of text(asset.body).matchAll(/from "\.\/([\w.]+)";/g)) {
      referenced.push(`/assets/${m[1]}`);
    }
  }
  ok(referenced.length > 5);
  for (const ref of referenced) {
    ok(ref.startsWith("/") && !ref.startsWith("//"), `same-origin reference: ${ref}`);
    ok(assets.has(ref), `served: ${ref}`);
  }
  ok(!/https?:\/\//.test(html.replace(/<!--[\s\S]*?-->/g, "")), "no absolute URL in the page");
});

Deno.test("dashboardResponse() answers known paths with security headers and null otherwise", async () => {
  const res = dashboardResponse("/")!;
  strictEqual(res.status, 200);
  strictEqual(res.headers.get("content-security-policy"), DASHBOARD_HEADERS["content-security-policy"]);
  strictEqual(res.headers.get("x-content-type-options"), "nosniff");
  ok((await res.text()).startsWith("<!doctype html>"));
  strictEqual(dashboardResponse("/assets/../../deno.json"), null);
  strictEqual(dashboardResponse("/assets/missing.js"), null);
});
