/**
 * `deno task bench [--json] [--quick]`: every figure next to a baseline measured in the same run. Writes
 * bench/results.json and prints a markdown table (or the JSON with --json).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Figure, machine, table } from "./_util.ts";
import { benchHttp } from "./http_bench.ts";

const USAGE = `Usage: deno task bench [--json] [--quick] [--only SECTION,…]

Runs the benchmarks with same-run baselines; writes bench/results.json and prints a markdown table.

Options:
  --json        print the results as JSON instead of the table
  --quick       shorter runs (for a smoke check; noisier)
  --only LIST   run only these sections: http, recovery, vault, sandbox, evolution, zig, distributed, shadows
  -h, --help    show this help`;

type Section = (quick: boolean) => Promise<Figure[]>;

/** Sections living in other folders, loaded when present. */
async function external(path: string, fn: string): Promise<Section> {
  const mod = await import(path) as Record<string, unknown>;
  const f = mod[fn];
  if (typeof f !== "function") throw new Error(`${path} has no ${fn}()`);
  return f as Section;
}

const SECTIONS: Record<string, () => Promise<Section>> = {
  http: () => Promise.resolve(benchHttp),
  recovery: () => import("./recovery_bench.ts").then((m) => m.benchRecovery),
  vault: () => external("./vault_section.ts", "vaultSection"),
  sandbox: () => external("./sandbox_section.ts", "sandboxSection"),
  evolution: () => external("./evolution_section.ts", "evolutionSection"),
  zig: () => external("./zig_section.ts", "zigSection"),
  distributed: () => external("./distributed_section.ts", "distributedSection"),
  shadows: () => external("./shadows_section.ts", "shadowsSection"),
};

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        json: { type: "boolean" },
        quick: { type: "boolean" },
        only: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : e}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const names = values.only ? values.only.split(",") : Object.keys(SECTIONS);
  const figures: Figure[] = [];
  const problems: string[] = [];
  for (const name of names) {
    const load = SECTIONS[name];
    if (load === undefined) {
      console.error(`bench: unknown section '${name}'`);
      return 2;
    }
    console.error(`bench: ${name}…`);
    try {
      figures.push(...await (await load())(Boolean(values.quick)));
    } catch (e) {
      problems.push(`${name}: ${e instanceof Error ? e.message : e}`);
      console.error(`bench: section ${name} failed: ${e instanceof Error ? e.stack : e}`);
    }
  }
  const results = { machine: machine(), quick: Boolean(values.quick), figures, problems };
  await Deno.writeTextFile(
    new URL("./results.json", import.meta.url),
    JSON.stringify(results, null, 2) + "\n",
  );
  if (values.json) console.log(JSON.stringify(results));
  else {
    const m = results.machine;
    console.log(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, ${m.os}, Deno ${m.deno}\n`);
    console.log(table(figures));
    if (problems.length) console.log(`\nNot measured:\n${problems.map((p) => `- ${p}`).join("\n")}`);
  }
  return problems.length ? 1 : 0;
}

Deno.exit(await main());
