import { deepStrictEqual, ok, strictEqual, throws } from "node:assert";
import { checkDataDir, parseRecoverArgs, recoverCommand } from "./recover.ts";
import { openVault } from "./vault.ts";
import { segmentName } from "./wal_scan.ts";
import type { WalEntry } from "./types.ts";

function entry(i: number): WalEntry {
  return {
    agent: "counter",
    version: "1",
    delta: [["s", ["state", `k${i}`], i]],
    output: i,
    request_id: `r${i}`,
    input: i,
    time_ms: 0,
  };
}

async function dataDirWithRecords(n: number): Promise<string> {
  const dataDir = await Deno.makeTempDir();
  const vault = await openVault({ dataDir });
  for (let i = 0; i < n; i++) await vault.append(entry(i));
  await vault.checkpoint("counter", { state: {}, memory: {} }, 1);
  await vault.close();
  return dataDir;
}

async function capture(run: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const log = console.log;
  const error = console.error;
  let out = "";
  let err = "";
  console.log = (...a: unknown[]) => void (out += a.join(" ") + "\n");
  console.error = (...a: unknown[]) => void (err += a.join(" ") + "\n");
  try {
    return { code: await run(), out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("checkDataDir() reports a clean data directory as ok", async () => {
  const dataDir = await dataDirWithRecords(10);
  const report = await checkDataDir(dataDir);
  ok(report.ok);
  strictEqual(report.wal.records, 10);
  strictEqual(report.wal.next_seq, 11);
  strictEqual(report.wal.problem, null);
  strictEqual(report.checkpoints.files_verified, 1);
  strictEqual(report.checkpoints.rows_verified, 1);
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("checkDataDir() finds a torn record with its seq and offset, and repair cuts it", async () => {
  const dataDir = await dataDirWithRecords(10);
  const segment = `${dataDir}/wal/${segmentName(1)}`;
  const bytes = await Deno.readFile(segment);
  await Deno.writeFile(segment, bytes.subarray(0, bytes.length - 4));
  const report = await checkDataDir(dataDir);
  strictEqual(report.ok, false);
  strictEqual(report.wal.problem?.kind, "torn");
  strictEqual(report.wal.problem?.seq, 10);
  strictEqual(report.wal.records, 9);
  strictEqual(
    (await Deno.readFile(segment)).length,
    bytes.length - 4,
    "a check without repair changes nothing",
  );
  const repaired = await checkDataDir(dataDir, { repair: true });
  ok(repaired.ok && repaired.wal.repaired);
  strictEqual((await Deno.readFile(segment)).length, repaired.wal.problem!.offset);
  ok((await checkDataDir(dataDir)).ok);
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("checkDataDir() reports a checkpoint file with a flipped bit", async () => {
  const dataDir = await dataDirWithRecords(3);
  const agentDir = `${dataDir}/checkpoints/counter`;
  const [name] = (await Array.fromAsync(Deno.readDir(agentDir))).map((e) => e.name);
  const bytes = await Deno.readFile(`${agentDir}/${name}`);
  bytes[30] ^= 4;
  await Deno.writeFile(`${agentDir}/${name}`, bytes);
  const report = await checkDataDir(dataDir);
  strictEqual(report.ok, false);
  deepStrictEqual(report.checkpoints.failed.map((f) => f.where), [`${agentDir}/${name}`]);
  ok(report.checkpoints.failed[0].reason.includes("checksum"));
  strictEqual(report.checkpoints.rows_verified, 1);
  await Deno.remove(dataDir, { recursive: true });
});

Deno.test("parseRecoverArgs() reads the flags and rejects unknown ones", () => {
  deepStrictEqual(parseRecoverArgs(["--data", "d", "--repair", "--json"]), {
    data: "d",
    repair: true,
    json: true,
    help: false,
  });
  strictEqual(parseRecoverArgs(["--data=x"]).data, "x");
  strictEqual(parseRecoverArgs([]).data, "./data");
  throws(() => parseRecoverArgs(["--force"]), /unknown flag --force/);
  throws(() => parseRecoverArgs(["--data"]), /needs a directory/);
});

Deno.test("recoverCommand() prints JSON, exits 1 on problems, 0 after --repair, 2 on usage errors", async () => {
  const dataDir = await dataDirWithRecords(5);
  const segment = `${dataDir}/wal/${segmentName(1)}`;
  const bytes = await Deno.readFile(segment);
  bytes[bytes.length - 2] ^= 1;
  await Deno.writeFile(segment, bytes);
  const checked = await capture(() => recoverCommand(["--data", dataDir, "--json"]));
  strictEqual(checked.code, 1);
  strictEqual(JSON.parse(checked.out).wal.problem.kind, "corrupt");
  const repaired = await capture(() => recoverCommand(["--data", dataDir, "--repair"]));
  strictEqual(repaired.code, 0);
  ok(repaired.out.includes("repaired"));
  strictEqual((await capture(() => recoverCommand(["--bogus"]))).code, 2);
  const help = await capture(() => recoverCommand(["--help"]));
  strictEqual(help.code, 0);
  ok(help.out.includes("Usage"));
  await Deno.remove(dataDir, { recursive: true });
});
