import { deepStrictEqual, strictEqual } from "node:assert";
import { buildSeccompFilter, SECCOMP_DENIED_X86_64 } from "./seccomp.ts";

function decode(bytes: Uint8Array): [number, number, number, number][] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: [number, number, number, number][] = [];
  for (let i = 0; i < bytes.length; i += 8) {
    out.push([
      view.getUint16(i, true),
      view.getUint8(i + 2),
      view.getUint8(i + 3),
      view.getUint32(i + 4, true),
    ]);
  }
  return out;
}

Deno.test("buildSeccompFilter() checks the arch, refuses x32 and sends every denied call to EPERM", () => {
  const denied = [101, 321];
  const p = decode(buildSeccompFilter(denied));
  strictEqual(p.length, 9);
  deepStrictEqual(p[0], [0x20, 0, 0, 4]);
  deepStrictEqual(p[1], [0x15, 1, 0, 0xc000003e]);
  deepStrictEqual(p[2], [0x06, 0, 0, 0x80000000]);
  deepStrictEqual(p[3], [0x20, 0, 0, 0]);
  const errno = 8;
  deepStrictEqual(p[4], [0x35, errno - 5, 0, 0x40000000]);
  deepStrictEqual(p[5], [0x15, errno - 6, 0, 101]);
  deepStrictEqual(p[6], [0x15, errno - 7, 0, 321]);
  deepStrictEqual(p[7], [0x06, 0, 0, 0x7fff0000]);
  deepStrictEqual(p[8], [0x06, 0, 0, 0x00050001]);
});

Deno.test("the jail's deny list covers the classic kernel attack surface", () => {
  for (
    const name of [
      "ptrace",
      "bpf",
      "userfaultfd",
      "perf_event_open",
      "keyctl",
      "io_uring_setup",
      "unshare",
      "mount",
    ]
  ) {
    strictEqual(typeof SECCOMP_DENIED_X86_64[name], "number", name);
  }
});
