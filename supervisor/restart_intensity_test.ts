import { strictEqual } from "node:assert";
import { RestartIntensity } from "./restart_intensity.ts";

Deno.test("RestartIntensity allows max restarts in a period and refuses one more", () => {
  const r = new RestartIntensity(3, 1000);
  strictEqual(r.record(0), true);
  strictEqual(r.record(10), true);
  strictEqual(r.record(20), true);
  strictEqual(r.record(30), false);
});

Deno.test("RestartIntensity forgets restarts older than the period", () => {
  const r = new RestartIntensity(2, 1000);
  strictEqual(r.record(0), true);
  strictEqual(r.record(500), true);
  strictEqual(r.record(1001), true);
  strictEqual(r.recent(1001), 2);
  strictEqual(r.record(1400), false);
});
