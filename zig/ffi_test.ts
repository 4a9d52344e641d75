/**
 * The loader against the counter test module: calls, error bodies, identity, the blocking guard, reload
 * with state carried over, refused reloads that leave the old version serving, and close.
 */
import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert";
import { encode } from "../protocol/mod.ts";
import { openModule, ZigModuleError } from "./ffi.ts";
import { builtLibrary } from "./_test_util.ts";

Deno.test("openModule() loads a module and call() round-trips msgpack", async () => {
  const m = await openModule(await builtLibrary("counter"), { config: { start: 10 } });
  try {
    strictEqual(m.version, "1.0.0");
    strictEqual(m.info.abiVersion, 1);
    strictEqual(m.info.sha256.length, 64);
    strictEqual(m.blocking, false);
    deepStrictEqual(m.call({ op: "inc", by: 5 }), { count: 15, loads: 0, version: "1.0.0" });
    deepStrictEqual(m.call({ op: "echo", value: { a: [1, "x", null, 2.5] } }), { a: [1, "x", null, 2.5] });
    strictEqual(m.call(null), null); // the ping o.zig answers itself
    deepStrictEqual(await m.callAsync({ op: "get" }), { count: 15, loads: 0, version: "1.0.0" });
    const raw = m.callRaw(encode({ op: "get" }));
    ok(raw instanceof Uint8Array && raw.length > 0);
  } finally {
    await m.close();
  }
});

Deno.test("call() turns a module's error body into ZigModuleError with its code and message", async () => {
  const m = await openModule(await builtLibrary("counter"));
  try {
    throws(() => m.call({ op: "fail" }), (e) => {
      ok(e instanceof ZigModuleError);
      strictEqual(e.code, "COUNTER_FAIL");
      strictEqual(e.status, 1);
      ok(e.message.includes("1.0.0"));
      return true;
    });
    throws(() => m.call({ op: "nope" }), { code: "UNKNOWN_OP" });
    throws(() => m.call({ nope: 1 }), { code: "BAD_REQUEST" });
    throws(() => m.callRaw(new Uint8Array([0xc1])), (e) => e instanceof ZigModuleError && e.status === 2);
    await rejects(m.callAsync({ op: "fail" }), { code: "COUNTER_FAIL" });
  } finally {
    await m.close();
  }
});

Deno.test("openModule() refuses a missing file, a non-library and a module whose o_init fails", async () => {
  await rejects(openModule("/nonexistent/libo_x.so"), { code: "ZIG_LOAD_FAILED" });
  const junk = await Deno.makeTempFile({ suffix: ".so" });
  await Deno.writeTextFile(junk, "not an ELF file");
  await rejects(openModule(junk), { code: "ZIG_LOAD_FAILED" });
  await Deno.remove(junk);
  await rejects(openModule(await builtLibrary("counter_broken")), { code: "ZIG_INIT_FAILED" });
});

Deno.test("reload() carries state to the new version; a broken library is refused and the old one serves", async () => {
  const m = await openModule(await builtLibrary("counter"));
  try {
    m.call({ op: "inc", by: 3 });
    await m.reload(await builtLibrary("counter_v2"));
    deepStrictEqual(m.call({ op: "get" }), { count: 3, loads: 1, version: "2.0.0" });
    await rejects(m.reload(await builtLibrary("counter_broken")), (e) => {
      ok(e instanceof ZigModuleError);
      strictEqual(e.code, "ZIG_RELOAD_FAILED");
      ok(e.message.includes("ZIG_INIT_FAILED"), e.message);
      return true;
    });
    deepStrictEqual(m.call({ op: "inc" }), { count: 4, loads: 1, version: "2.0.0" });
    await rejects(m.reload("/nonexistent/libo_counter.so"), { code: "ZIG_RELOAD_FAILED" });
    await m.reload(await builtLibrary("counter"));
    deepStrictEqual(m.call({ op: "get" }), { count: 4, loads: 2, version: "1.0.0" });
    const history = m.history;
    deepStrictEqual(history.map((r) => r.ok), [true, false, false, true]);
    strictEqual(history[1].error?.code, "ZIG_INIT_FAILED");
    strictEqual(history[0].to?.version, "2.0.0");
    ok(history[0].stateBytes > 0);
  } finally {
    await m.close();
  }
  throws(() => m.call({ op: "get" }), { code: "ZIG_MODULE_CLOSED" });
});
