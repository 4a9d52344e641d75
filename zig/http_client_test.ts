/**
 * The http_client module through FFI against a Deno server in this same process on a random
 * 127.0.0.1 port. That the server answers at all proves the calls do not block the event loop (a blocking
 * call here would deadlock). HTTPS uses a self-signed localhost certificate from zig/testdata.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert";
import { openModule } from "./ffi.ts";
import { builtLibrary } from "./_test_util.ts";

const TESTDATA = new URL("./testdata/", import.meta.url).pathname;
const decoder = new TextDecoder();

type Answer = {
  status: number;
  reason: string;
  headers: Record<string, string>;
  body: Uint8Array;
  url: string;
  redirects: number;
};

function handler(req: Request): Response | Promise<Response> {
  const url = new URL(req.url);
  switch (url.pathname) {
    case "/echo":
      return req.arrayBuffer().then((body) =>
        Response.json({
          method: req.method,
          body: decoder.decode(body),
          type: req.headers.get("content-type"),
          token: req.headers.get("x-token"),
        }, { headers: { "x-multi": "a", "set-cookie": "k=v" } })
      );
    case "/missing":
      return new Response("no such thing", { status: 404 });
    case "/redirect":
      return Response.redirect(new URL(`/echo`, url), 302);
    case "/see-other":
      return Response.redirect(new URL(`/echo`, url), 303);
    case "/loop":
      return Response.redirect(new URL(`/loop`, url), 302);
    case "/slow":
      return new Promise((resolve) => setTimeout(() => resolve(new Response("late")), 1500));
    case "/big":
      return new Response(new Uint8Array(3 * 1024 * 1024).fill(7));
    default:
      return new Response("hello");
  }
}

async function withServer(options: { tls?: boolean }, fn: (base: string) => Promise<void>): Promise<void> {
  const tls = options.tls
    ? {
      cert: await Deno.readTextFile(`${TESTDATA}localhost_cert.pem`),
      key: await Deno.readTextFile(`${TESTDATA}localhost_key.pem`),
    }
    : {};
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {}, ...tls }, handler);
  const host = options.tls ? "localhost" : "127.0.0.1";
  try {
    await fn(`${options.tls ? "https" : "http"}://${host}:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("http_client: GET, POST with headers and body, other methods, status and headers", async () => {
  const m = await openModule(await builtLibrary("http_client"));
  try {
    strictEqual(m.blocking, true);
    await withServer({}, async (base) => {
      const get = await m.callAsync({ url: `${base}/` }) as Answer;
      strictEqual(get.status, 200);
      strictEqual(decoder.decode(get.body), "hello");
      strictEqual(get.redirects, 0);
      const post = await m.callAsync({
        url: `${base}/echo`,
        method: "POST",
        headers: { "content-type": "application/json", "x-token": "s3cret" },
        body: '{"a":1}',
      }) as Answer;
      strictEqual(post.status, 200);
      deepStrictEqual(JSON.parse(decoder.decode(post.body)), {
        method: "POST",
        body: '{"a":1}',
        type: "application/json",
        token: "s3cret",
      });
      strictEqual(post.headers["x-multi"], "a");
      ok(post.headers["content-type"].startsWith("application/json"));
      for (const method of ["PUT", "PATCH", "DELETE"]) {
        const out = await m.callAsync({
          url: `${base}/echo`,
          method,
          body: new Uint8Array([104, 105]),
        }) as Answer;
        strictEqual(JSON.parse(decoder.decode(out.body)).method, method);
        strictEqual(JSON.parse(decoder.decode(out.body)).body, "hi");
      }
      const missing = await m.callAsync({ url: `${base}/missing` }) as Answer;
      strictEqual(missing.status, 404);
      strictEqual(decoder.decode(missing.body), "no such thing");
      const big = await m.callAsync({ url: `${base}/big` }) as Answer;
      strictEqual(big.body.length, 3 * 1024 * 1024);
      await rejects(m.callAsync({ url: `${base}/big`, max_body_bytes: 1024 }), {
        code: "HTTP_BODY_TOO_LARGE",
      });
      const many = await Promise.all(
        Array.from({ length: 20 }, () => m.callAsync({ url: `${base}/` }) as Promise<Answer>),
      );
      ok(many.every((a) => a.status === 200));
    });
  } finally {
    await m.close();
  }
});

Deno.test("http_client: redirects are followed (303 turns POST into GET) and bounded", async () => {
  const m = await openModule(await builtLibrary("http_client"));
  try {
    await withServer({}, async (base) => {
      const out = await m.callAsync({ url: `${base}/redirect` }) as Answer;
      strictEqual(out.status, 200);
      strictEqual(out.redirects, 1);
      strictEqual(out.url, `${base}/echo`);
      const seeOther = await m.callAsync({ url: `${base}/see-other`, method: "POST", body: "x" }) as Answer;
      strictEqual(JSON.parse(decoder.decode(seeOther.body)).method, "GET");
      await rejects(m.callAsync({ url: `${base}/loop`, max_redirects: 3 }), {
        code: "HTTP_TOO_MANY_REDIRECTS",
      });
      const unfollowed = await m.callAsync({ url: `${base}/redirect`, max_redirects: 0 }) as Answer;
      strictEqual(unfollowed.status, 302);
      ok(unfollowed.headers.location.endsWith("/echo"));
    });
  } finally {
    await m.close();
  }
});

Deno.test("http_client: a slow answer times out and refused connections fail clearly, the event loop stays free", async () => {
  const m = await openModule(await builtLibrary("http_client"));
  try {
    await withServer({}, async (base) => {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const started = performance.now();
      await rejects(m.callAsync({ url: `${base}/slow`, timeout_ms: 300 }), { code: "HTTP_TIMEOUT" });
      const elapsed = performance.now() - started;
      clearInterval(timer);
      ok(elapsed >= 250 && elapsed < 1400, `timed out after ${elapsed} ms`);
      ok(ticks >= 10, `the event loop ran ${ticks} timer ticks during the call`);
      const slow = await m.callAsync({ url: `${base}/slow`, timeout_ms: 5000 }) as Answer;
      strictEqual(decoder.decode(slow.body), "late");
    });
    await rejects(m.callAsync({ url: "http://127.0.0.1:1/", timeout_ms: 1000 }), {
      code: "HTTP_CONNECT_FAILED",
    });
  } finally {
    await m.close();
  }
});

Deno.test("http_client: https with std.crypto.tls against a self-signed certificate", async () => {
  const m = await openModule(await builtLibrary("http_client"));
  try {
    await withServer({ tls: true }, async (base) => {
      const out = await m.callAsync({
        url: `${base}/echo`,
        method: "POST",
        body: "secure",
        ca_file: `${TESTDATA}localhost_cert.pem`,
      }) as Answer;
      strictEqual(out.status, 200);
      strictEqual(JSON.parse(decoder.decode(out.body)).body, "secure");
      // Without the test CA the system bundle does not trust the certificate.
      await rejects(m.callAsync({ url: `${base}/` }), { code: "HTTP_TLS_FAILED" });
    });
  } finally {
    await m.close();
  }
});
