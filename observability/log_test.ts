import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { LOG_FILES_KEPT_MAX, Logger } from "./log.ts";

function lines(text: string): Record<string, unknown>[] {
  return text.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
}

Deno.test("Logger writes one JSON line per call, batched until flush; warn and error flush at once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new Logger({ dir, console: false, level: "debug" });
    log.info("request", { request_id: "r1", status: 200, ms: 0.5, agent: undefined });
    strictEqual(await Deno.readTextFile(`${dir}/o.log`), "", "info lines wait for the batch");
    log.warn("héllo ✓", { big: 2n ** 70n, bytes: new Uint8Array(3), error: new TypeError("bad") });
    const got = lines(await Deno.readTextFile(`${dir}/o.log`));
    strictEqual(got.length, 2);
    deepStrictEqual({ ...got[0], time: "t" }, {
      time: "t",
      level: "info",
      msg: "request",
      request_id: "r1",
      status: 200,
      ms: 0.5,
    });
    ok(!Number.isNaN(Date.parse(got[0].time as string)));
    deepStrictEqual(
      { ...got[1], time: "t" },
      {
        time: "t",
        level: "warn",
        msg: "héllo ✓",
        big: (2n ** 70n).toString(),
        bytes: "<3 bytes>",
        error: { name: "TypeError", message: "bad" },
      },
    );
    log.debug("d");
    log.close();
    strictEqual(lines(await Deno.readTextFile(`${dir}/o.log`)).length, 3, "close flushes");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Logger rotates at fileBytesMax and keeps LOG_FILES_KEPT_MAX old files, losing no line in them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const log = new Logger({ dir, console: false, fileBytesMax: 2_000 });
    const total = 400;
    for (let i = 0; i < total; i++) {
      log.info("line", { i, pad: "x".repeat(40) });
      if (i % 10 === 9) log.flush();
    }
    log.close();
    const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    ok(files.length <= LOG_FILES_KEPT_MAX + 1, files.join(","));
    ok(files.includes(`o.log.${LOG_FILES_KEPT_MAX}`), files.join(","));
    // Newest first: o.log, o.log.1, …; every kept file holds whole lines, in order, ending with the last.
    const kept = ["o.log", ...Array.from({ length: LOG_FILES_KEPT_MAX }, (_, k) => `o.log.${k + 1}`)]
      .reverse();
    const seen = kept.flatMap((f) => lines(Deno.readTextFileSync(`${dir}/${f}`))).map((l) => l.i as number);
    strictEqual(seen.at(-1), total - 1);
    seen.forEach((v, k) => k > 0 && strictEqual(v, seen[k - 1] + 1));
    for (const f of kept) ok(Deno.statSync(`${dir}/${f}`).size <= 2_000 + 1_000, `${f} stays near the bound`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
