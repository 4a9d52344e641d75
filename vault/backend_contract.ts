/**
 * The contract every {@link Backend} must meet, as one test suite (Hono-style): call
 * `runBackendContract(name, newBackend)` from a `*_test.ts` file to register its tests.
 *
 * @module
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import type { Backend, CheckpointRow } from "./backend.ts";
import type { VaultError } from "./errors.ts";
import { seededRandom } from "./_prng.ts";

/** A backend under test: `open` may be called more than once on the same storage; `cleanup` drops it. */
export interface BackendFixture {
  open(): Promise<Backend>;
  cleanup(): Promise<void>;
}

function row(agent: string, id: string, seq: number, created_ms: number, blob: Uint8Array): CheckpointRow {
  return { agent, id, seq, kind: seq % 2 === 0 ? "full" : "incremental", base_id: null, created_ms, blob };
}

type CaseBody = (backend: Backend, fixture: BackendFixture) => Promise<void>;

/** The contract, as (what, body) pairs; each body gets a fresh backend. */
const CASES: [string, CaseBody][] = [
  ["putCheckpoint() and getCheckpoint() round-trip a blob byte for byte", async (b) => {
    const blob = seededRandom(1).bytes(1024 * 1024);
    await b.putCheckpoint({ ...row("a", "c1", 4, 10, blob), base_id: "c0" });
    deepStrictEqual(await b.getCheckpoint("a", "c1"), blob);
    strictEqual(await b.getCheckpoint("a", "nope"), undefined);
    strictEqual(await b.getCheckpoint("b", "c1"), undefined);
    const [listed] = await b.listCheckpoints("a");
    deepStrictEqual(listed, {
      agent: "a",
      id: "c1",
      seq: 4,
      kind: "full",
      base_id: "c0",
      created_ms: 10,
      bytes: blob.length,
    });
  }],

  ["listCheckpoints() orders newest first by seq, then creation time, and honours the limit", async (b) => {
    const blob = new Uint8Array([1, 2, 3]);
    await b.putCheckpoint(row("a", "x", 5, 100, blob));
    await b.putCheckpoint(row("a", "y", 9, 50, blob));
    await b.putCheckpoint(row("a", "z", 5, 200, blob));
    await b.putCheckpoint(row("other", "w", 99, 1, blob));
    deepStrictEqual((await b.listCheckpoints("a")).map((c) => c.id), ["y", "z", "x"]);
    deepStrictEqual((await b.listCheckpoints("a", 2)).map((c) => c.id), ["y", "z"]);
    deepStrictEqual(await b.listCheckpoints("nobody"), []);
  }],

  ["putCheckpoint() replaces the row with the same agent and id", async (b) => {
    await b.putCheckpoint(row("a", "x", 5, 100, new Uint8Array([1])));
    await b.putCheckpoint(row("a", "x", 6, 101, new Uint8Array([2, 2])));
    const listed = await b.listCheckpoints("a");
    strictEqual(listed.length, 1);
    strictEqual(listed[0].seq, 6);
    deepStrictEqual(await b.getCheckpoint("a", "x"), new Uint8Array([2, 2]));
  }],

  ["deleteCheckpoint() removes one checkpoint and says whether it existed", async (b) => {
    await b.putCheckpoint(row("a", "x", 1, 1, new Uint8Array([1])));
    await b.putCheckpoint(row("a", "y", 2, 2, new Uint8Array([1])));
    strictEqual(await b.deleteCheckpoint("a", "x"), true);
    strictEqual(await b.deleteCheckpoint("a", "x"), false);
    deepStrictEqual((await b.listCheckpoints("a")).map((c) => c.id), ["y"]);
  }],

  ["checkpointAgents() lists each agent with a checkpoint once, sorted", async (b) => {
    for (const agent of ["zed", "alpha", "zed", "mid"]) {
      await b.putCheckpoint(row(agent, `${agent}-${Math.random()}`, 1, 1, new Uint8Array([1])));
    }
    deepStrictEqual(await b.checkpointAgents(), ["alpha", "mid", "zed"]);
  }],

  ["saveAgent() replaces by name and listAgents() sorts by name", async (b) => {
    await b.saveAgent({
      name: "b",
      version: "1.0.0",
      source: "export default 1",
      origin: "dir",
      created_ms: 1,
    });
    await b.saveAgent({ name: "a", version: "1.0.0", source: "x", origin: "api", created_ms: 2 });
    await b.saveAgent({
      name: "b",
      version: "1.1.0",
      source: "export default 2 // ü ✓",
      origin: "api",
      created_ms: 3,
    });
    deepStrictEqual(await b.listAgents(), [
      { name: "a", version: "1.0.0", source: "x", origin: "api", created_ms: 2 },
      { name: "b", version: "1.1.0", source: "export default 2 // ü ✓", origin: "api", created_ms: 3 },
    ]);
  }],

  ["kvPut() and kvGet() round-trip every msgpack value type", async (b) => {
    const value = {
      n: 1.5,
      i: -7,
      big: 2 ** 40,
      s: "häll✓",
      t: true,
      z: null,
      list: [1, "two", [3]],
      bin: new Uint8Array([0, 255, 7]),
      nested: { a: { b: { c: [] } } },
    };
    await b.kvPut("lineage", "k1", value);
    deepStrictEqual(await b.kvGet("lineage", "k1"), value);
    strictEqual(await b.kvGet("lineage", "absent"), undefined);
    strictEqual(await b.kvGet("other", "k1"), undefined);
    await b.kvPut("lineage", "k1", "replaced");
    strictEqual(await b.kvGet("lineage", "k1"), "replaced");
  }],

  ["kvList() sorts by key, filters by prefix, honours the limit and keeps namespaces apart", async (b) => {
    for (const key of ["job/3", "job/1", "jobs", "x/1", "job/2"]) await b.kvPut("jobs", key, key.length);
    await b.kvPut("other", "job/9", 0);
    deepStrictEqual((await b.kvList("jobs")).map((e) => e.key), ["job/1", "job/2", "job/3", "jobs", "x/1"]);
    deepStrictEqual(await b.kvList("jobs", { prefix: "job/", limit: 2 }), [
      { key: "job/1", value: 5 },
      { key: "job/2", value: 5 },
    ]);
    deepStrictEqual(await b.kvList("empty"), []);
  }],

  ["kvDelete() removes one key and says whether it existed", async (b) => {
    await b.kvPut("ns", "k", 1);
    strictEqual(await b.kvDelete("ns", "k"), true);
    strictEqual(await b.kvDelete("ns", "k"), false);
    strictEqual(await b.kvGet("ns", "k"), undefined);
  }],

  ["kv calls reject bad names and oversized limits with typed errors", async (b) => {
    await rejects(b.kvPut("", "k", 1), (e: VaultError) => e.code === "VAULT_ENTRY_INVALID");
    await rejects(b.kvPut("ns", "k".repeat(600), 1), (e: VaultError) => e.code === "VAULT_ENTRY_INVALID");
    await rejects(b.kvList("ns", { limit: 0 }), (e: VaultError) => e.code === "VAULT_ENTRY_INVALID");
    await rejects(b.kvPut("ns", "f", () => 1), (e: VaultError) => e.code === "VAULT_ENTRY_INVALID");
  }],

  ["keeps everything across close and reopen", async (b, fixture) => {
    await b.putCheckpoint(row("a", "x", 2, 1, new Uint8Array([9, 9])));
    await b.saveAgent({ name: "a", version: "1", source: "s", origin: "dir", created_ms: 1 });
    await b.kvPut("ns", "k", { v: 1 });
    await b.close();
    const again = await fixture.open();
    try {
      deepStrictEqual(await again.getCheckpoint("a", "x"), new Uint8Array([9, 9]));
      strictEqual((await again.listAgents()).length, 1);
      deepStrictEqual(await again.kvGet("ns", "k"), { v: 1 });
      ok(again.kind.length > 0);
    } finally {
      await again.close();
    }
  }],
];

/**
 * Registers the backend contract tests.
 *
 * @param name Shown in each test's name, e.g. `"SqliteBackend"`.
 * @param newBackend Makes a fresh, empty storage for one test.
 */
export function runBackendContract(name: string, newBackend: () => Promise<BackendFixture>): void {
  for (const [what, body] of CASES) {
    Deno.test(`${name} ${what}`, async () => {
      const fixture = await newBackend();
      const backend = await fixture.open();
      try {
        await body(backend, fixture);
      } finally {
        await backend.close().catch(() => {});
        await fixture.cleanup();
      }
    });
  }
}
