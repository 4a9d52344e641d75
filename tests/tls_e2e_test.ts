/**
 * Encryption in transit: with --tls-cert/--tls-key the server speaks HTTPS (and a plain-HTTP request to
 * the same port gets no answer from the API).
 */
import { ok, strictEqual } from "node:assert";
import { join } from "node:path";
import { startServer } from "./_server.ts";

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
}

/** A throwaway CA and a localhost certificate it signed. */
async function certificates(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    dir,
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=o-test-ca",
  );
  await openssl(dir, "req", ...ec, "-keyout", "key.pem", "-out", "leaf.csr", "-subj", "/CN=localhost");
  await Deno.writeTextFile(
    join(dir, "ext.cnf"),
    "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "cert.pem",
    "-days",
    "1",
    "-extfile",
    "ext.cnf",
  );
  return { ca: join(dir, "ca.pem"), cert: join(dir, "cert.pem"), key: join(dir, "key.pem") };
}

Deno.test("--tls-cert/--tls-key serve the API over HTTPS", async () => {
  const dir = await Deno.makeTempDir({ prefix: "o-tls-" });
  const { ca, cert, key } = await certificates(dir);
  const server = await startServer({ args: ["--tls-cert", cert, "--tls-key", key] });
  const client = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(ca)] });
  try {
    const res = await fetch(`https://localhost:${server.port}/v1/agents/simple-assistant/invoke`, {
      method: "POST",
      body: JSON.stringify({ input: { message: "over tls" } }),
      client,
    });
    strictEqual(res.status, 200);
    strictEqual((await res.json()).output, "over tls");
    const plain = await fetch(`http://127.0.0.1:${server.port}/health`).then(
      (r) => r.status,
      () => "refused",
    );
    ok(plain !== 200, "plain HTTP is not served on the TLS port");
  } finally {
    client.close();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
