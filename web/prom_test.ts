/**
 * Goal: the browser-side Prometheus parser reads O's exposition (escaped label values, histograms, +Inf)
 * and the rates and quantiles between two scrapes match hand-computed values, counter resets included.
 * Method: the pure functions of web/static/prom.js on literal scrape text.
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { between, histogramQuantile, parsePrometheus, summarize } from "./static/prom.js";

function scrape(count: number, fast: number, sum: number, errors = 0, restarts = 0): string {
  return `# HELP o_invocations_total Invokes answered
# TYPE o_invocations_total counter
o_invocations_total{agent="counter",version="1.0.0",outcome="ok"} ${count - errors}
o_invocations_total{agent="counter",version="1.0.0",outcome="error"} ${errors}
# TYPE o_invoke_duration_seconds histogram
o_invoke_duration_seconds_bucket{agent="counter",version="1.0.0",le="0.001"} ${fast}
o_invoke_duration_seconds_bucket{agent="counter",version="1.0.0",le="0.01"} ${count}
o_invoke_duration_seconds_bucket{agent="counter",version="1.0.0",le="+Inf"} ${count}
o_invoke_duration_seconds_sum{agent="counter",version="1.0.0"} ${sum}
o_invoke_duration_seconds_count{agent="counter",version="1.0.0"} ${count}
o_sandbox_restarts_total{agent="counter"} ${restarts}
o_http_requests_total{route="^\\\\/v1\\\\/agents$",status="200"} 3
o_process_memory_bytes{kind="rss"} 1048576
o_shadows 2
`;
}

Deno.test("parsePrometheus() reads names, escaped labels, values and skips comments and junk", () => {
  const samples = parsePrometheus(
    'a_total{x="q\\"uote",y="back\\\\slash",z="new\\nline"} 12\n# HELP a b\nbroken{x="1" 3\nb +Inf\nc NaN 1700000000\n',
  );
  strictEqual(samples.length, 3);
  deepStrictEqual(samples[0], {
    name: "a_total",
    labels: { x: 'q"uote', y: "back\\slash", z: "new\nline" },
    value: 12,
  });
  strictEqual(samples[1].value, Infinity);
  ok(Number.isNaN(samples[2].value));
});

Deno.test("summarize() adds up an agent's series over versions and outcomes", () => {
  const s = summarize(parsePrometheus(scrape(10, 4, 0.02, 1, 2)), 1000);
  const c = s.agents.counter;
  strictEqual(c.invocations, 10);
  strictEqual(c.errors, 1);
  strictEqual(c.count, 10);
  strictEqual(c.restarts, 2);
  deepStrictEqual(c.buckets.map((b) => b.le), [0.001, 0.01, Infinity]);
  strictEqual(s.total.invocations, 10);
  strictEqual(s.rss_bytes, 1048576);
  strictEqual(s.shadows, 2);
});

Deno.test("histogramQuantile() interpolates inside the bucket and ignores +Inf's width", () => {
  const buckets = [{ le: 1, count: 50 }, { le: 2, count: 100 }, { le: Infinity, count: 100 }];
  strictEqual(histogramQuantile(buckets, 0.5), 1);
  strictEqual(histogramQuantile(buckets, 0.75), 1.5);
  strictEqual(histogramQuantile([{ le: 1, count: 0 }, { le: Infinity, count: 4 }], 0.99), 1);
  strictEqual(histogramQuantile([{ le: Infinity, count: 0 }], 0.5), null);
  throws(() => histogramQuantile(buckets, 1.5), RangeError);
});

Deno.test("between() gives rates and latency of the window, and survives a counter reset", () => {
  const a = summarize(parsePrometheus(scrape(10, 4, 0.02)), 0);
  const b = summarize(parsePrometheus(scrape(30, 24, 0.04, 2, 1)), 2000);
  const w = between(a, b);
  strictEqual(w.seconds, 2);
  strictEqual(w.total.rate, 10);
  strictEqual(w.agents.counter.error_rate, 1);
  strictEqual(w.agents.counter.restarts, 1);
  ok(Math.abs((w.agents.counter.mean_ms ?? 0) - 1) < 1e-9, `mean ${w.agents.counter.mean_ms}`);
  // All 20 new invokes took at most 1 ms: the p50 lies inside the first bucket.
  ok((w.agents.counter.p50_ms ?? 99) <= 1);
  const restarted = summarize(parsePrometheus(scrape(5, 5, 0.001)), 4000);
  const after = between(b, restarted);
  strictEqual(after.total.rate, 2.5, "a server restart counts the new total, not a negative rate");
  throws(() => between(b, b), RangeError);
});
