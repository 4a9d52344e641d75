import { deepStrictEqual, rejects, strictEqual } from "node:assert";
import { FaultyFileSystem } from "./faulty_fs.ts";

async function withFile(body: (fs: FaultyFileSystem, path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await body(new FaultyFileSystem({ seed: 42 }), `${dir}/f`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const bytes = (...xs: number[]) => new Uint8Array(xs);

Deno.test("FaultyFileSystem.crash() keeps synced writes and drops unsynced ones", async () => {
  await withFile(async (fs, path) => {
    const file = await fs.openFile(path, { create: true });
    await file.writeAt(bytes(1, 2, 3), 0);
    await file.syncData();
    await file.writeAt(bytes(4, 5), 3);
    await fs.crash();
    deepStrictEqual(await Deno.readFile(path), bytes(1, 2, 3));
    await rejects(file.writeAt(bytes(9), 0), /died in a crash/);
  });
});

Deno.test("FaultyFileSystem.crash() with tear keeps a prefix of the unsynced bytes", async () => {
  await withFile(async (fs, path) => {
    const file = await fs.openFile(path, { create: true });
    await file.writeAt(bytes(1, 2), 0);
    await file.syncData();
    await file.writeAt(new Uint8Array(100).fill(7), 2);
    await fs.crash({ tear: true });
    const after = await Deno.readFile(path);
    deepStrictEqual(after.subarray(0, 2), bytes(1, 2));
    strictEqual(after.length < 102, true);
  });
});

Deno.test("FaultyFileSystem fails syncs like Linux: the lost pages stay lost", async () => {
  await withFile(async (fs, path) => {
    const file = await fs.openFile(path, { create: true });
    await file.writeAt(bytes(1, 1), 0);
    fs.failNext({ op: "sync" });
    await rejects(file.syncData(), /Input\/output error/);
    await file.syncData();
    await fs.crash();
    deepStrictEqual(await Deno.readFile(path), bytes(0, 0));
  });
});

Deno.test("FaultyFileSystem injects short writes and ENOSPC, leaving a prefix", async () => {
  await withFile(async (fs, path) => {
    const file = await fs.openFile(path, { create: true });
    fs.failNext({ op: "write", kind: "enospc" });
    await rejects(file.writeAt(new Uint8Array(50).fill(1), 0), (e: { code: string }) => e.code === "ENOSPC");
    fs.failNext({ op: "write", kind: "short" });
    await rejects(file.writeAt(new Uint8Array(50).fill(2), 0), (e: { code: string }) => e.code === "EIO");
    strictEqual((await file.size()) < 50, true);
    deepStrictEqual(fs.injected.map((f) => f.kind), ["enospc", "short"]);
    file.close();
  });
});

Deno.test("FaultyFileSystem.flipBit() flips exactly one bit on disk", async () => {
  await withFile(async (fs, path) => {
    const file = await fs.openFile(path, { create: true });
    await file.writeAt(new Uint8Array(10), 0);
    await file.syncData();
    file.close();
    const { offset, bit } = await fs.flipBit(path);
    const after = await Deno.readFile(path);
    strictEqual(after[offset], 1 << bit);
    strictEqual(after.reduce((n, b) => n + (b === 0 ? 0 : 1), 0), 1);
  });
});
