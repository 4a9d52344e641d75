/**
 * Operations files against the real server: `/metrics` passes `promtool check metrics` and its counters
 * move after invokes; the alert rules pass `promtool check rules`; the alert rules and the Grafana
 * dashboard use only metrics that `/metrics` exposes.
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, ROOT, startServer } from "./_server.ts";

async function promtool(args: string[], stdin?: string): Promise<{ code: number; out: string }> {
  const child = new Deno.Command("promtool", {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  })
    .spawn();
  if (stdin) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, out: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr) };
}

function counter(text: string, name: string, labels: string): number {
  const line = text.split("\n").find((l) =>
    l.startsWith(name + "{") && labels.split(",").every((p) => l.includes(p))
  );
  return line ? Number(line.split(" ").at(-1)) : 0;
}

function metricNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const line of exposition.split("\n")) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!m) continue;
    names.add(m[1]);
    if (m[2] === "histogram") { for (const s of ["_bucket", "_sum", "_count"]) names.add(m[1] + s); }
  }
  return names;
}

function referencedMetrics(text: string): string[] {
  return [...new Set([...text.matchAll(/\b(o_[a-z_]+)\b/g)].map((m) => m[1]))];
}

Deno.test("promtool accepts the alert rules", async () => {
  const r = await promtool(["check", "rules", join(ROOT, "deploy", "prometheus", "alerts.yml")]);
  strictEqual(r.code, 0, r.out);
});

Deno.test("/metrics passes promtool, counters move after invokes, dashboards use only exposed metrics", async () => {
  const server = await startServer();
  try {
    const before = await (await fetch(`${server.url}/metrics`)).text();
    for (let i = 0; i < 3; i++) {
      strictEqual(
        (await post(`${server.url}/v1/agents/counter/invoke`, { input: { add: `m${i}` } })).status,
        200,
      );
    }
    const after = await (await fetch(`${server.url}/metrics`)).text();
    const labels = 'agent="counter",outcome="ok"';
    strictEqual(
      counter(after, "o_invocations_total", labels) - counter(before, "o_invocations_total", labels),
      3,
    );
    ok(counter(after, "o_wal_appends_total", "") >= 3 || /o_wal_appends_total \d+/.test(after));
    const lint = await promtool(["check", "metrics"], after);
    strictEqual(lint.code, 0, lint.out);
    const exposed = metricNames(after);
    const alerts = await Deno.readTextFile(join(ROOT, "deploy", "prometheus", "alerts.yml"));
    const dashboard = await Deno.readTextFile(join(ROOT, "deploy", "grafana", "o-dashboard.json"));
    for (const [file, text] of [["alerts.yml", alerts], ["o-dashboard.json", dashboard]]) {
      const missing = referencedMetrics(text).filter((m) => !exposed.has(m));
      strictEqual(missing.length, 0, `${file} uses metrics /metrics does not expose: ${missing}`);
    }
  } finally {
    await server.stop();
  }
});
