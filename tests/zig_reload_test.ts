/**
 * Hot reload under load. Goal: 100 reloads between two versions of a stateful module while calls run
 * without pause lose no call and no state, and a broken library is refused with the old version serving.
 *
 * Method: four async callers increment the counter in a loop (on Deno's FFI thread pool, so they are in
 * flight while a reload starts), the reload loop makes a synchronous call between reloads, and every tenth
 * step also tries the broken library. At the end the count must equal the number of answered increments
 * and `loads` must equal the number of successful reloads.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { openModule } from "../zig/mod.ts";
import { builtLibrary } from "../zig/_test_util.ts";

const RELOADS = 100;
const CALLERS = 4;

Deno.test("100 reloads between counter v1 and v2 under continuous calls lose no call and no state", async () => {
  const v1 = await builtLibrary("counter");
  const v2 = await builtLibrary("counter_v2");
  const broken = await builtLibrary("counter_broken");
  const m = await openModule(v1);
  let answered = 0;
  let stop = false;
  const versionsSeen = new Set<string>();
  const caller = async () => {
    while (!stop) {
      const out = await m.callAsync({ op: "inc" }) as { count: number; version: string };
      versionsSeen.add(out.version);
      answered++;
    }
  };
  const callers = Array.from({ length: CALLERS }, caller);
  let refused = 0;
  try {
    for (let i = 0; i < RELOADS; i++) {
      const target = i % 2 === 0 ? v2 : v1;
      await m.reload(target);
      strictEqual(m.version, i % 2 === 0 ? "2.0.0" : "1.0.0");
      m.call({ op: "inc" });
      answered++;
      if (i % 10 === 9) {
        const before = m.version;
        await rejects(m.reload(broken), { code: "ZIG_RELOAD_FAILED" });
        refused++;
        strictEqual(m.version, before);
        m.call({ op: "inc" });
        answered++;
      }
    }
  } finally {
    stop = true;
    await Promise.all(callers);
  }
  const final = m.call({ op: "get" }) as { count: number; loads: number; version: string };
  strictEqual(final.count, answered, "every answered increment is counted exactly once");
  strictEqual(final.loads, RELOADS, "state was carried over every successful reload");
  deepStrictEqual([...versionsSeen].sort(), ["1.0.0", "2.0.0"]);
  const history = m.history;
  strictEqual(history.length, RELOADS + refused);
  strictEqual(history.filter((r) => r.ok).length, RELOADS);
  ok(history.some((r) => r.drainedCalls > 0), "some reloads had to drain in-flight calls");
  console.log(
    `reloads=${RELOADS} refused=${refused} calls=${answered} ` +
      `reload ms p50=${median(history.filter((r) => r.ok).map((r) => r.durationMs)).toFixed(2)}`,
  );
  await m.close();
});

function median(xs: number[]): number {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}
