/**
 * `deno task compile`: the single binary `dist/o` through `deno compile` (which downloads Deno's runtime
 * build). Sandboxes still run a real `deno`: the binary uses `O_DENO_BIN`, or `deno` on PATH. Where the
 * runtime download is unreachable, this says so and points to `deno task bundle`.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(
    "Usage: deno task compile\n\nBuilds dist/o with deno compile (needs Deno's runtime download); see deno task bundle.",
  );
  Deno.exit(0);
}
// Directories read at run time, and the shadow thread's Worker entry (deno compile only embeds modules it
// can see imported; a Worker's URL is not an import).
const includes = ["agent", "protocol", "sandbox", "examples", "web", "supervisor/shadow_thread.ts"].flatMap((
  d,
) => ["--include", join(ROOT, d)]);
const out = await new Deno.Command(Deno.execPath(), {
  args: ["compile", "-A", "--no-check", ...includes, "-o", join(ROOT, "dist", "o"), join(ROOT, "main.ts")],
  cwd: ROOT,
  stdout: "inherit",
  stderr: "piped",
}).output();
const err = new TextDecoder().decode(out.stderr);
await Deno.stderr.write(out.stderr);
if (!out.success) {
  if (/dl\.deno\.land|denort|download/i.test(err)) {
    console.error(
      "\ncompile: Deno's runtime build could not be downloaded here; use `deno task bundle` (offline).",
    );
  }
  Deno.exit(1);
}
console.log(join(ROOT, "dist", "o"));
