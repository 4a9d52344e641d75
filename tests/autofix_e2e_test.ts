/**
 * Goal (auto-fix, end to end): a spike of one error for one input shape in production becomes a
 * reproducing regression case, a fix from the engine, a candidate that goes through shadow and arbiter,
 * and a report (found, root-cause guess, fix). The example agent `parser` throws on any part without
 * "=" (its guard compares with -2); its evals use well-formed text only.
 * Method: the real server; traffic with a share of malformed settings; an `autofix` job whose trigger is
 * the live error rate (from the health monitor) fires; the job reads DATA/logs/o.log.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, ROOT, startServer, waitJob } from "./_server.ts";

Deno.test("autofix: an error spike in the logs becomes a regression case and a promoted fix, with a report", async () => {
  const agents = await Deno.makeTempDir({ prefix: "o-agents-" });
  Deno.copyFileSync(join(ROOT, "examples", "phase5", "parser.ts"), join(agents, "parser.ts"));
  const server = await startServer({ agents, args: ["--shadow-window-ms", "1000", "--log-level", "warn"] });
  const base = `${server.url}/v1/agents/parser`;
  try {
    const job = await post(`${server.url}/v1/jobs`, {
      kind: "autofix",
      agent: "parser",
      seed: "4",
      generations: 3,
      population: 12,
      trigger: { error_rate_above: 0.2 },
    });
    strictEqual(job.status, 201, JSON.stringify(job.body));
    const texts = [
      "a=1;b=2",
      "a=1;",
      "mode=fast",
      "x=1;;y=2",
      "k=v;w=z",
      "debug;level=2",
      "p=q",
      "name=o;",
      "u=1;v=2;w=3",
      "verbose",
      "s=t",
      "colour=red;size=9",
    ];
    let failed = 0;
    for (const [i, text] of texts.entries()) {
      const r = await post(`${base}/invoke`, { input: { text } }, { "x-request-id": `af-${i}` });
      if (r.status === 422) failed++;
      else strictEqual(r.status, 200);
    }
    strictEqual(failed, 5, "every malformed text fails");
    const done = await waitJob(
      server,
      job.body.id as string,
      (j) => j.runs >= 1 || j.status === "failed",
      120_000,
    );
    strictEqual(done.runs, 1, JSON.stringify(done));
    ok(String(done.reason).startsWith("trigger: error rate"), done.reason);
    const report = done.result;
    console.log(
      JSON.stringify({
        found: report.found,
        root_cause: report.root_cause,
        reproduced: report.reproduced,
        fix: report.fix,
      }),
    );
    strictEqual(report.found[0].code, "AGENT_ERROR");
    strictEqual(report.found[0].shape, "{text:string}");
    ok(report.found[0].spike);
    ok(report.root_cause.text.includes("trim"), report.root_cause.text);
    ok(report.reproduced.length >= 1);
    strictEqual(report.fix.candidate.status, "promoted", report.reason);

    // The fix is live: malformed parts are skipped, well-formed text parses as before.
    deepStrictEqual((await post(`${base}/invoke`, { input: { text: "a=1;" } })).body.output, { a: "1" });
    deepStrictEqual((await post(`${base}/invoke`, { input: { text: "debug;level=2" } })).body.output, {
      level: "2",
    });
    deepStrictEqual((await post(`${base}/invoke`, { input: { text: "a=1;b=2" } })).body.output, {
      a: "1",
      b: "2",
    });

    // The reproduction stays in the regression set; the lineage carries the report.
    const regs = await (await fetch(`${base}/regressions`)).json();
    ok(
      regs.cases.some((c: { origin: string; status: string }) =>
        c.origin === "autofix" && c.status === "fixed"
      ),
    );
    const lineage = await (await fetch(`${base}/lineage`)).json();
    const v = lineage.versions.find((x: { version: string }) => x.version === report.fix.candidate.version);
    strictEqual(v.operator, "autofix");
    strictEqual(v.decision.autofix.root_cause.text, report.root_cause.text);
  } finally {
    await server.stop();
  }
});
