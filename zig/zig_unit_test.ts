/**
 * Runs the Zig unit tests (`zig build test`) so that `deno task test` covers them. Cached by source hash:
 * when the sources already passed, nothing is compiled.
 */
import { runZigTests } from "./build.ts";

Deno.test("zig build test: every module's Zig unit tests pass", async () => {
  // A failure throws ZigBuildError with the compiler's output, which the runner prints.
  const result = await runZigTests();
  if (result.ran) {
    console.log(result.output.split("\n").filter((l) => l.includes("Build Summary")).join("\n"));
  }
});
