import { deepStrictEqual, rejects, strictEqual, throws } from "node:assert";
import { join } from "node:path";
import { ToolError } from "../protocol/mod.ts";
import { Broker, type Grant, type ToolAudit, toolKey } from "./broker.ts";
import { calculate } from "./tools/calculator.ts";

function broker() {
  const audit: ToolAudit[] = [];
  return { broker: new Broker((e) => audit.push(e)), audit };
}

const isCode = (code: string) => (e: unknown) => e instanceof ToolError && e.code === code;

Deno.test("calculate() follows precedence, right-associative powers, unary minus and functions", () => {
  strictEqual(calculate("1 + 2 * 3"), 7);
  strictEqual(calculate("2 ^ 3 ^ 2"), 512);
  strictEqual(calculate("-(2 + 3) * 4"), -20);
  strictEqual(calculate("-2 ^ 2"), -4);
  strictEqual(calculate("sqrt(16) + max(1, 5, 3) - min(2, 7)"), 7);
  strictEqual(calculate("10 % 4 + 1.5e1"), 17);
  strictEqual(calculate("2 * pi"), 2 * Math.PI);
});

Deno.test("calculate() rejects bad syntax, unknown names and division by zero with typed errors", () => {
  for (const bad of ["1 +", "(1", "2 3", "abc", "constructor", "__proto__", "toString(1)", "1; 2", "a=1"]) {
    throws(() => calculate(bad), isCode("CALCULATOR_SYNTAX"), bad);
  }
  throws(() => calculate("1 / 0"), isCode("CALCULATOR_DIVISION_BY_ZERO"));
  throws(() => calculate("10 ^ 400"), isCode("CALCULATOR_NOT_FINITE"));
  throws(() => calculate("(".repeat(100) + "1" + ")".repeat(100)), isCode("CALCULATOR_SYNTAX"));
  throws(() => calculate(42), isCode("TOOL_BAD_ARGS"));
});

Deno.test("Broker refuses a tool that is not granted and audits the refusal", async () => {
  const { broker: b, audit } = broker();
  const grant: Grant = { tools: ["echo"], mode: "live" };
  await rejects(b.call("a", grant, "calculator", ["1+1"], "r1"), isCode("TOOL_NOT_GRANTED"));
  strictEqual(await b.call("a", grant, "echo", ["x"], "r2"), "x");
  deepStrictEqual(audit.map((e) => [e.tool, e.ok, e.code, e.request_id]), [
    ["calculator", false, "TOOL_NOT_GRANTED", "r1"],
    ["echo", true, undefined, "r2"],
  ]);
});

Deno.test("Broker refuses oversized arguments and answers", async () => {
  const { broker: b } = broker();
  const grant: Grant = { tools: ["echo"], mode: "live" };
  await rejects(b.call("a", grant, "echo", ["x".repeat(300 * 1024)], "r"), isCode("TOOL_ARGS_TOO_LARGE"));
  await rejects(b.call("a", grant, "echo", "not a list", "r"), isCode("TOOL_BAD_ARGS"));
});

Deno.test("file_read stays inside the grant: traversal and symlinks out are refused", async () => {
  const root = await Deno.makeTempDir();
  const grantDir = join(root, "grant");
  await Deno.mkdir(grantDir);
  await Deno.writeTextFile(join(grantDir, "note.txt"), "inside");
  await Deno.writeTextFile(join(root, "secret.txt"), "outside");
  await Deno.symlink(join(root, "secret.txt"), join(grantDir, "link.txt"));
  await Deno.symlink(root, join(grantDir, "dirlink"));
  const { broker: b } = broker();
  const grant: Grant = { tools: ["file_read"], fileRoot: grantDir, mode: "live" };
  strictEqual(await b.call("a", grant, "file_read", ["note.txt"], "r"), "inside");
  strictEqual(await b.call("a", grant, "file_read", [join(grantDir, "note.txt")], "r"), "inside");
  for (
    const path of ["../secret.txt", "link.txt", "dirlink/secret.txt", join(root, "secret.txt"), "/etc/passwd"]
  ) {
    await rejects(b.call("a", grant, "file_read", [path], "r"), isCode("FILE_OUTSIDE_GRANT"), path);
  }
  await rejects(b.call("a", grant, "file_read", ["missing.txt"], "r"), isCode("FILE_NOT_FOUND"));
  await Deno.remove(root, { recursive: true });
});

Deno.test("http refuses hosts that are not allow-listed and reaches ones that are", async () => {
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    () => new Response("pong"),
  );
  const port = server.addr.port;
  try {
    const { broker: b } = broker();
    const grant: Grant = { tools: ["http"], httpAllowHosts: [`127.0.0.1:${port}`], mode: "live" };
    const answer = await b.call("a", grant, "http", [`http://127.0.0.1:${port}/x`], "r") as {
      status: number;
      body: string;
    };
    deepStrictEqual([answer.status, answer.body], [200, "pong"]);
    for (const url of [`http://localhost:${port}/`, `http://127.0.0.2:${port}/`, "file:///etc/passwd"]) {
      await rejects(b.call("a", grant, "http", [url], "r"), (e) => e instanceof ToolError, url);
    }
  } finally {
    await server.shutdown();
  }
});

Deno.test("a shadow grant never runs a side-effecting tool: it answers from the record or refuses", async () => {
  const { broker: b } = broker();
  const recorded = new Map([[toolKey("http", ["http://example.test/"]), {
    status: 200,
    headers: {},
    body: "rec",
  }]]);
  const grant: Grant = {
    tools: ["http", "echo"],
    mode: "shadow",
    recorded,
    httpAllowHosts: ["example.test"],
  };
  deepStrictEqual(await b.call("a", grant, "http", ["http://example.test/"], "r"), {
    status: 200,
    headers: {},
    body: "rec",
  });
  await rejects(
    b.call("a", grant, "http", ["http://example.test/other"], "r"),
    isCode("TOOL_SHADOW_NO_RECORD"),
  );
  strictEqual(await b.call("a", grant, "echo", [1], "r"), 1);
});
