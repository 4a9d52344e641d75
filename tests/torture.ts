/**
 * The long kill -9 torture: `deno run -A tests/torture.ts [--kills N] [--clients N] [--seed S]`.
 * Prints progress and the report; exits 1 if anything acknowledged was lost or duplicated.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { torture } from "./_torture.ts";

const { values } = parseArgs({
  args: Deno.args,
  strict: true,
  options: {
    kills: { type: "string", default: "1000" },
    clients: { type: "string", default: "8" },
    seed: { type: "string", default: "1" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log("Usage: deno run -A tests/torture.ts [--kills N] [--clients N] [--seed S]");
  Deno.exit(0);
}
const report = await torture({
  kills: Number(values.kills),
  clients: Number(values.clients),
  runMs: [100, 600],
  seed: Number(values.seed),
  onRound: (round, acked) => {
    if (round % 10 === 0) console.error(`kill ${round}: ${acked} acknowledged so far`);
  },
});
console.log(JSON.stringify(report, null, 2));
const bad = report.lostAcked.length + report.duplicates.length + report.unknown.length +
  report.leftoverProcesses.length;
Deno.exit(bad === 0 ? 0 : 1);
