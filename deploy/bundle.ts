/**
 * `deno task bundle`: the portable fallback for `deno task compile` where Deno's runtime download is
 * unreachable. Writes `dist/o-bundle/` (the deno binary, the project, its npm dependencies, a warm module
 * cache, built Zig modules) and `dist/o-bundle.tar.gz`; `dist/o-bundle/o` runs O offline:
 *
 *   tar xzf o-bundle.tar.gz && ./o-bundle/o start
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
const OUT = join(ROOT, "dist", "o-bundle");

async function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  cwd = ROOT,
): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, env, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed:\n${new TextDecoder().decode(out.stderr).slice(-2000)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

if (Deno.args.includes("--help") || Deno.args.includes("-h")) {
  console.log(
    "Usage: deno task bundle\n\nWrites dist/o-bundle/ and dist/o-bundle.tar.gz: O with its own deno binary, runnable offline.",
  );
  Deno.exit(0);
}
await Deno.remove(OUT, { recursive: true }).catch(() => {});
await Deno.mkdir(join(OUT, "bin"), { recursive: true });
console.error("bundle: copying the deno binary and the project");
await Deno.copyFile(Deno.execPath(), join(OUT, "bin", "deno"));
await Deno.chmod(join(OUT, "bin", "deno"), 0o755);
const files = (await run("git", ["ls-files"])).split("\n").filter(Boolean);
for (const f of files) {
  await Deno.mkdir(dirname(join(OUT, "app", f)), { recursive: true });
  await Deno.copyFile(join(ROOT, f), join(OUT, "app", f));
}
for (const dir of ["node_modules", "zig-out"]) {
  if (await Deno.stat(join(ROOT, dir)).then(() => true, () => false)) {
    await run("cp", ["-a", join(ROOT, dir), join(OUT, "app", dir)]);
  }
}
console.error("bundle: warming the module cache");
const env = { DENO_DIR: join(OUT, "cache") };
await run(join(OUT, "bin", "deno"), ["install"], env, join(OUT, "app"));
await run(
  join(OUT, "bin", "deno"),
  ["cache", "main.ts", "agent/sandbox_main.ts", "evolution/mod.ts"],
  env,
  join(OUT, "app"),
);
await Deno.writeTextFile(
  join(OUT, "o"),
  `#!/usr/bin/env bash
# O, bundled: runs offline with its own deno binary and module cache.
here="$(cd "$(dirname "$0")" && pwd)"
export DENO_DIR="$here/cache" O_DENO_BIN="$here/bin/deno" DENO_NO_UPDATE_CHECK=1
cd "$here/app" && exec "$here/bin/deno" run -A --cached-only main.ts "$@"
`,
);
await Deno.chmod(join(OUT, "o"), 0o755);
console.error("bundle: packing dist/o-bundle.tar.gz");
await run("tar", ["czf", join(ROOT, "dist", "o-bundle.tar.gz"), "-C", join(ROOT, "dist"), "o-bundle"]);
console.log(join(ROOT, "dist", "o-bundle.tar.gz"));
