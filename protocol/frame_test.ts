import { deepStrictEqual, throws } from "node:assert";
import fc from "fast-check";
import { encodeFrame, FrameDecoder, FrameError } from "./mod.ts";

Deno.test("FrameDecoder yields every frame whatever the chunking", () => {
  const msgs = fc.array(
    fc.record({ t: fc.string(), n: fc.integer(), body: fc.string() }, { noNullPrototype: true }),
    { minLength: 1, maxLength: 20 },
  );
  fc.assert(
    fc.property(msgs, fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1 }), (messages, cuts) => {
      const bytes = new Uint8Array(messages.flatMap((m) => [...encodeFrame(m)]));
      const decoder = new FrameDecoder();
      const out: unknown[] = [];
      let at = 0;
      for (let i = 0; at < bytes.length; i++) {
        const n = cuts[i % cuts.length];
        out.push(...decoder.push(bytes.subarray(at, at + n)));
        at += n;
      }
      deepStrictEqual(out, messages);
      deepStrictEqual(decoder.pendingBytes, 0);
    }),
    { numRuns: 200 },
  );
});

Deno.test("FrameDecoder refuses a header over the limit before the body arrives", () => {
  const decoder = new FrameDecoder(1024);
  throws(
    () => decoder.push(new Uint8Array([0, 0, 4, 1])),
    (e) => e instanceof FrameError && e.code === "FRAME_TOO_LARGE",
  );
});

Deno.test("FrameDecoder holds a truncated frame without yielding it", () => {
  const frame = encodeFrame({ t: "ping", n: 7 });
  const decoder = new FrameDecoder();
  deepStrictEqual(decoder.push(frame.subarray(0, frame.length - 1)), []);
  deepStrictEqual(decoder.push(frame.subarray(frame.length - 1)), [{ t: "ping", n: 7 }]);
});

Deno.test("FrameDecoder throws MSGPACK_MALFORMED for a complete frame with a bad body", () => {
  const decoder = new FrameDecoder();
  throws(
    () => decoder.push(new Uint8Array([0, 0, 0, 1, 0xc1])),
    (e) => e instanceof FrameError && e.code === "MSGPACK_MALFORMED",
  );
});

Deno.test("encodeFrame() refuses a body over the limit", () => {
  throws(
    () => encodeFrame({ s: "x".repeat(2000) }, 1000),
    (e) => e instanceof FrameError && e.code === "FRAME_TOO_LARGE",
  );
});

Deno.test("validateSandboxMessage() refuses a frame without the spawn secret, or with another one", async () => {
  const { validateSandboxMessage } = await import("./mod.ts");
  for (const k of [undefined, "", "other-secret"]) {
    throws(
      () => validateSandboxMessage({ t: "pong", k, n: 1 }, "the-secret"),
      (e) => e instanceof FrameError && e.code === "FRAME_UNAUTHENTICATED",
    );
  }
  deepStrictEqual(validateSandboxMessage({ t: "pong", k: "the-secret", n: 1 }, "the-secret"), {
    t: "pong",
    k: "the-secret",
    n: 1,
  });
});
