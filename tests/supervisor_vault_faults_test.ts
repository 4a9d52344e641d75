/**
 * Goal: a write that did not become durable is never answered as a success, and after a failed append the
 * supervisor's truth equals what the WAL holds — under injected write and fsync failures.
 * Method: a real Supervisor with real sandboxes over a real vault whose file system fails on a seeded
 * schedule (vault/faulty_fs.ts); afterwards the data directory is reopened with the plain file system.
 */
import { deepStrictEqual, ok } from "node:assert";
import { join } from "node:path";
import { FaultyFileSystem } from "../vault/faulty_fs.ts";
import { openVault } from "../vault/mod.ts";
import { Logger } from "../observability/mod.ts";
import { PROJECT_ROOT, Supervisor, SupervisorMetrics } from "../supervisor/mod.ts";

const COUNTER = Deno.readTextFileSync(join(PROJECT_ROOT, "examples", "agents", "counter.ts"));

async function run(seed: number, rates: { write?: number; sync?: number }, writes: number) {
  const dataDir = await Deno.makeTempDir({ prefix: "o-faults-" });
  const fs = new FaultyFileSystem({ seed });
  const vault = await openVault({ dataDir, fs });
  const supervisor = new Supervisor({
    dataDir,
    vault,
    log: new Logger({ console: false }),
    metrics: new SupervisorMetrics(),
    tier: "jail",
  });
  const host = await supervisor.register(COUNTER, "dir");
  fs.setRates(rates);
  const acked = new Set<string>();
  const failures = new Map<string, number>();
  await Promise.all(Array.from({ length: 4 }, async (_, c) => {
    for (let i = 0; i < writes / 4; i++) {
      const key = `c${c}-${i}`;
      try {
        await host.invoke({ add: key }, { requestId: key });
        acked.add(key);
      } catch (e) {
        const code = (e as { code?: string }).code ?? "?";
        failures.set(code, (failures.get(code) ?? 0) + 1);
      }
    }
  }));
  fs.setRates({});
  // One more write with a healthy disk: the agent serves again.
  await host.invoke({ add: "final" }, { requestId: "final" });
  acked.add("final");
  const truth = await host.durableState();
  await supervisor.stop(200);
  await vault.close();
  const reopened = await openVault({ dataDir });
  const recovered = await reopened.recoverAgent("counter");
  await reopened.close();
  await Deno.remove(dataDir, { recursive: true });
  return { acked, failures, injected: fs.injected.length, truth, recovered };
}

for (const seed of [11, 12, 13]) {
  Deno.test(`injected WAL write and fsync failures (seed ${seed}): no false ack, truth equals the WAL`, async () => {
    check(await run(seed, { write: 0.05, sync: 0.05 }, 200));
  });
}

function check(r: Awaited<ReturnType<typeof run>>): void {
  ok(r.injected > 0, "faults were injected");
  ok((r.failures.get("VAULT_IO") ?? 0) > 0, `failed appends answered VAULT_IO: ${[...r.failures]}`);
  for (const code of r.failures.keys()) {
    ok(["VAULT_IO", "AGENT_CRASHED", "AGENT_UNAVAILABLE"].includes(code), `unexpected failure ${code}`);
  }
  const keys = r.recovered.snapshot.state.keys as string[];
  for (const k of r.acked) ok(keys.includes(k), `acknowledged key ${k} is durable`);
  deepStrictEqual(new Set(keys).size, keys.length, "no key applied twice");
  deepStrictEqual(r.truth.snapshot.state, r.recovered.snapshot.state, "supervisor truth equals the WAL");
  deepStrictEqual(r.truth.seq, r.recovered.seq);
}
