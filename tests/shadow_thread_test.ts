/**
 * The shadow thread (supervisor/shadow_thread.ts): shadows run in an idle-class Worker of the supervisor,
 * in jailed idle-class sandboxes; mirrored live answers reach them with live's recorded tool answers, so a
 * shadow that makes the same side-effecting tool call answers from the record, and one that makes a
 * different call is refused (no side effect from a shadow) and counted as failing; code that does not
 * load is refused with `AGENT_LOAD_FAILED`; stopping the supervisor stops the thread and its sandboxes.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { join } from "node:path";
import { Logger } from "../observability/mod.ts";
import { AGENT_LIMITS_DEFAULT } from "../sandbox/mod.ts";
import { localSupervisor } from "./_supervisor.ts";
import { SHADOW_QUEUE_MAX } from "../supervisor/splitter.ts";
import { cpuGroup, FLEET_AGENT } from "./stress_fleet.ts";

const LIVE = `import { defineAgent } from "@o/agent";
export default defineAgent({
  name: "lookup",
  version: "1.0.0",
  tools: ["sql"],
  handle: async (ctx) => {
    const r = await ctx.tools.sql("SELECT ? * 2 AS v", [ctx.arg("n")]);
    return { v: r.rows[0][0] };
  },
});
`;
/** Same answers, through a different (unrecorded) query: a shadow may not run it. */
const OTHER_QUERY = LIVE.replace("SELECT ? * 2 AS v", "SELECT ? + ? AS v").replace(
  '[ctx.arg("n")]',
  '[ctx.arg("n"), ctx.arg("n")]',
);

/** The thread ids of this process that are in the background cpu group. */
function backgroundThreads(): number[] {
  const tasks = Deno.readTextFileSync("/sys/fs/cgroup/cpu/o-background/tasks").trim().split("\n").map(Number);
  const mine = new Set([...Deno.readDirSync("/proc/self/task")].map((e) => Number(e.name)));
  return tasks.filter((t) => mine.has(t));
}

Deno.test("shadows run in an idle-class thread and answer side-effecting tools only from live's record", async () => {
  const logDir = await Deno.makeTempDir({ prefix: "o-shadow-thread-logs-" });
  const log = new Logger({ dir: logDir, console: false });
  const local = await localSupervisor({ log, limits: { ...AGENT_LIMITS_DEFAULT, memoryMb: 128 } });
  const supervisor = local.supervisor;
  try {
    const live = await supervisor.register(LIVE, "api");
    const start = async (id: string, source: string) => {
      const { snapshot, seq } = await live.durableState();
      const shadow = await supervisor.shadows.start({
        id,
        agent: "lookup",
        source,
        version: `1.0.0+${id}`,
        start: { snapshot, seq, history: [] },
        tools: ["sql"],
      });
      supervisor.splitter.add(shadow);
      return shadow;
    };
    const same = await start("same", LIVE);
    const other = await start("other", OTHER_QUERY);

    // The thread is idle-class (in the background cpu group where cgroup v1 has one), and so are the
    // shadows' sandboxes; the live sandbox is not.
    strictEqual(supervisor.shadows.cpu, "idle");
    const liveCpu = cpuGroup(live.pid!);
    if (liveCpu !== null) {
      strictEqual(liveCpu.idle, false);
      ok(cpuGroup(same.host.pid!)?.idle, "the shadow's sandbox is idle-class");
      ok(backgroundThreads().length >= 1, "one of the supervisor's threads is in the background group");
    }

    for (let n = 1; n <= 5; n++) {
      deepStrictEqual((await live.invoke({ n }, { requestId: `r${n}` })).output, { v: n * 2 });
    }
    const deadline = Date.now() + 10_000;
    while ((same.comparisons.length < 5 || other.comparisons.length < 5) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    strictEqual(same.comparisons.length, 5);
    ok(same.comparisons.every((c) => c.equal && c.source === "mirror"), JSON.stringify(same.comparisons));
    deepStrictEqual(same.comparisons.map((c) => c.request_id), ["r1", "r2", "r3", "r4", "r5"]);
    strictEqual(other.comparisons.length, 5);
    ok(other.comparisons.every((c) => !c.equal), "a shadow's unrecorded tool call never runs");
    // The shadows' tool calls were audited through the main thread's log, in shadow mode.
    await supervisor.stop(200);
    log.flush();
    const lines = (await Deno.readTextFile(join(logDir, "o.log"))).trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    const shadowCalls = lines.filter((l) => l.msg === "tool call" && l.mode === "shadow");
    ok(shadowCalls.some((l) => l.ok === true), "recorded answers were audited");
    ok(shadowCalls.some((l) => l.code === "TOOL_SHADOW_NO_RECORD"), "refusals were audited");

    // The sandboxes are gone with the supervisor.
    for (const pid of [same.host.pid!, other.host.pid!]) {
      ok(!(await Deno.stat(`/proc/${pid}`).then(() => true, () => false)), `shadow sandbox ${pid} is gone`);
    }
  } finally {
    await local.close();
    await Deno.remove(logDir, { recursive: true }).catch(() => {});
  }
});

Deno.test("a shadow whose code does not load is refused with AGENT_LOAD_FAILED", async () => {
  const local = await localSupervisor();
  try {
    await rejects(
      local.supervisor.shadows.start({
        id: "broken",
        agent: "x",
        source: "export default 42;\n",
        version: "0.0.1",
        start: { snapshot: { state: {}, memory: {} }, seq: 0, history: [] },
        tools: [],
      }),
      (e: Error & { code?: string }) => e.code === "AGENT_LOAD_FAILED",
    );
  } finally {
    await local.close();
  }
});

Deno.test("mirrored inputs a busy shadow cannot queue are dropped and counted at once on the main side", async () => {
  const local = await localSupervisor({ limits: { ...AGENT_LIMITS_DEFAULT, memoryMb: 128 } });
  try {
    const live = await local.supervisor.register(FLEET_AGENT, "api");
    // Each mirrored input keeps this shadow busy for 2 s: its queue fills and nothing completes for a while.
    const slow = FLEET_AGENT.replace(
      'const n = ctx.arg("n") as number;',
      'const n = ctx.arg("n") as number;\n    const until = Date.now() + 2000;\n    while (Date.now() < until) { /* slow */ }',
    );
    const { snapshot, seq } = await live.durableState();
    const shadow = await local.supervisor.shadows.start({
      id: "slow",
      agent: "fleet",
      source: slow,
      version: "1.0.0+slow",
      start: { snapshot, seq, history: [] },
      tools: [],
    });
    local.supervisor.splitter.add(shadow);
    const extra = 6;
    await Promise.all(
      Array.from(
        { length: SHADOW_QUEUE_MAX + extra },
        (_, i) => live.invoke({ n: i }, { requestId: `d${i}` }),
      ),
    );
    const deadline = Date.now() + 1_000;
    while (shadow.dropped < extra && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    strictEqual(shadow.dropped, extra, "the drops are known before any comparison completes");
    strictEqual(shadow.comparisons.length, 0);
  } finally {
    await local.close();
  }
});
