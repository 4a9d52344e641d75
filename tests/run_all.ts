/**
 * `deno task test`: runs every test file with `deno test`, then prints the plain summary line
 * `N passed, N failed` that CI reads (deno test's own summary is not in that form).
 *
 * Usage: deno task test [-- deno test options and files]
 *
 * @module
 */
const args = Deno.args;
if (args.includes("--help") || args.includes("-h")) {
  console.log(
    "Usage: deno task test [FILES…]\n\nRuns the whole suite (or FILES) and ends with 'N passed, N failed'.",
  );
  Deno.exit(0);
}
const junit = await Deno.makeTempFile({ suffix: ".xml" });
const child = new Deno.Command(Deno.execPath(), {
  args: ["test", "-A", "--no-check", `--junit-path=${junit}`, ...args],
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const status = await child.status;
let passed = 0;
let failed = 0;
try {
  const xml = await Deno.readTextFile(junit);
  for (const m of xml.matchAll(/<testcase\b[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = m[2] ?? "";
    if (/<(failure|error)\b/.test(body)) failed++;
    else if (!/<skipped\b/.test(body)) passed++;
  }
} catch (e) {
  console.error(`run_all: cannot read the junit report: ${e instanceof Error ? e.message : e}`);
}
await Deno.remove(junit).catch(() => {});
if (!status.success && failed === 0) failed = 1; // The runner itself failed (e.g. a file did not load).
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(status.success && failed === 0 ? 0 : 1);
