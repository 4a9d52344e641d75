/**
 * Goal (feedback learning, end to end): negative feedback on a class of answers leads to a promoted
 * version that answers those better, with the evidence in the lineage. The example agent `greeter`
 * greets French speakers in English (it compares with "FR", clients send "fr"); its evals only cover
 * English. French speakers give −1 (two of them with a correction), English speakers +1. A `feedback`
 * job with a trigger (3 negative records) fires, finds the class `lang=fr`, turns it into cases, evolves
 * a fix and takes it through the protected path.
 * Method: the real server, real jails, the HTTP API; feedback names answers by their X-Request-Id.
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { post, ROOT, startServer, waitJob } from "./_server.ts";

Deno.test("feedback: -1 on French answers leads to a promoted greeter that greets in French, evidence in the lineage", async () => {
  const agents = await Deno.makeTempDir({ prefix: "o-agents-" });
  Deno.copyFileSync(join(ROOT, "examples", "phase5", "greeter.ts"), join(agents, "greeter.ts"));
  const server = await startServer({ agents, args: ["--shadow-window-ms", "1000", "--log-level", "warn"] });
  const base = `${server.url}/v1/agents/greeter`;
  try {
    const job = await post(`${server.url}/v1/jobs`, {
      kind: "feedback",
      agent: "greeter",
      seed: "2",
      generations: 3,
      population: 12,
      trigger: { negative_feedback_at_least: 3 },
    });
    strictEqual(job.status, 201, JSON.stringify(job.body));
    strictEqual(job.body.status, "scheduled");
    const people = [
      { name: "Ada", lang: "en", score: 1 },
      { name: "Zoé", lang: "fr", score: -1, comment: 'expected: "Bonjour, Zoé !"' },
      { name: "Alan", lang: "en", score: 1 },
      { name: "Émile", lang: "fr", score: -1 },
      { name: "Marie", lang: "fr", score: -1, comment: 'expected: "Bonjour, Marie !"' },
      { name: "Ken", lang: "en", score: 0.5 },
      { name: "Jules", lang: "fr", score: -1, comment: "wrong language" },
    ];
    for (const [i, p] of people.entries()) {
      const requestId = `fb-${i}`;
      const r = await post(`${base}/invoke`, { input: { name: p.name, lang: p.lang } }, {
        "x-request-id": requestId,
      });
      strictEqual(r.status, 200);
      strictEqual(r.body.output, `Hello, ${p.name}!`, "the bug: everyone is greeted in English");
      const fb = await post(`${base}/feedback`, {
        seq: r.body.seq,
        score: p.score,
        request_id: requestId,
        ...(p.comment ? { comment: p.comment } : {}),
      });
      strictEqual(fb.status, 201, JSON.stringify(fb.body));
    }
    // The trigger fires; the job runs once and goes back to waiting for its trigger.
    const done = await waitJob(
      server,
      job.body.id as string,
      (j) => j.runs >= 1 || j.status === "failed",
      120_000,
    );
    strictEqual(done.runs, 1, JSON.stringify(done));
    strictEqual(done.status, "scheduled");
    ok(String(done.reason).startsWith("trigger:"), String(done.reason));
    const result = done.result;
    console.log(
      JSON.stringify({
        patterns: result.patterns.slice(0, 3),
        hypothesis: result.hypothesis,
        candidate: result.candidate,
      }),
    );
    strictEqual(result.patterns[0].feature, "lang=fr");
    strictEqual(result.candidate.status, "promoted", result.reason);

    // The promoted version answers the class better; the others as before.
    const fr = await post(`${base}/invoke`, { input: { name: "Zoé", lang: "fr" } });
    strictEqual(fr.body.output, "Bonjour, Zoé !");
    strictEqual(fr.body.version, result.candidate.version);
    strictEqual(
      (await post(`${base}/invoke`, { input: { name: "Ada", lang: "en" } })).body.output,
      "Hello, Ada!",
    );

    // The evidence is in the lineage.
    const lineage = await (await fetch(`${base}/lineage`)).json();
    const v = lineage.versions.find((x: { version: string }) => x.version === result.candidate.version);
    strictEqual(v.operator, "feedback");
    strictEqual(v.decision.feedback.pattern.feature, "lang=fr");
    ok(v.decision.feedback.records.length >= 4, "the feedback records behind it");
    ok(v.decision.feedback.records.every((r: { ref: string }) => r.ref.startsWith("fb-")));
    strictEqual(v.decision.regressions, 0);
    // The hypothesis' cases stay in the regression set: disliked answers now fixed, liked ones kept.
    const regs = await (await fetch(`${base}/regressions`)).json();
    ok(
      regs.cases.some((c: { kind: string; status: string }) => c.kind === "feedback" && c.status === "fixed"),
    );
    ok(regs.cases.some((c: { kind: string }) => c.kind === "feedback-keep"));
  } finally {
    await server.stop();
  }
});
