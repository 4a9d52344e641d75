import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { EvolveOptionError } from "./errors.ts";
import { declaredVersion, evolveCommand, evolvedVersion, parseEvolveArgs } from "./evolve_command.ts";

const SORTER = Deno.readTextFileSync(new URL("../examples/agents/sorter.ts", import.meta.url));

Deno.test("parseEvolveArgs() reads every flag with its default", () => {
  deepStrictEqual(parseEvolveArgs(["--agent", "sorter"]), {
    agent: "sorter",
    agents: "examples/agents",
    generations: 6,
    population: 16,
    seed: "1",
    budgetS: null,
    data: "data",
    out: null,
    json: false,
    workers: null,
  });
  const all = parseEvolveArgs([
    "--agent",
    "x.ts",
    "--agents",
    "a",
    "--generations",
    "2",
    "--population",
    "4",
    "--seed",
    "s",
    "--budget-s",
    "1.5",
    "--data",
    "d",
    "--out",
    "o.ts",
    "--json",
    "--workers",
    "postgres://u@h/db?schema=s",
  ]);
  ok(all !== "help" && all.generations === 2 && all.budgetS === 1.5 && all.json && all.out === "o.ts");
  strictEqual(all.workers, "postgres://u@h/db?schema=s");
  strictEqual(parseEvolveArgs(["--help"]), "help");
});

Deno.test("parseEvolveArgs() refuses unknown flags, missing values and bad numbers", () => {
  const bad = (args: string[]) => throws(() => parseEvolveArgs(args), EvolveOptionError);
  bad(["--agent", "sorter", "--frobnicate"]);
  bad(["--agent"]);
  bad([]);
  bad(["--agent", "sorter", "--generations", "-1"]);
  bad(["--agent", "sorter", "--population", "100000"]);
  bad(["--agent", "sorter", "--budget-s", "0"]);
  bad(["--agent", "sorter", "--workers", "sqlite:"]);
});

Deno.test("evolveCommand() exits 2 on a usage error and 0 on --help", async () => {
  const error = console.error;
  const log = console.log;
  console.error = () => {};
  console.log = () => {};
  try {
    strictEqual(await evolveCommand(["--agent", "sorter", "--bogus"]), 2);
    strictEqual(await evolveCommand(["--help"]), 0);
    strictEqual(await evolveCommand(["--agent", "no-such-agent", "--data", await Deno.makeTempDir()]), 1);
  } finally {
    console.error = error;
    console.log = log;
  }
});

Deno.test("evolvedVersion() names evolved code by its hash; declaredVersion() reads the spec", () => {
  strictEqual(declaredVersion(SORTER), "1.0.0");
  const v = evolvedVersion("1.0.0", SORTER);
  ok(/^1\.0\.0\+evo\.[0-9a-f]{8}$/.test(v), v);
  strictEqual(evolvedVersion(v, SORTER), v, "re-evolving replaces the suffix");
});
