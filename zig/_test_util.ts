/**
 * Shared by the Zig tests: builds the modules once per test process (cached by source hash, so this is a
 * few milliseconds when nothing changed).
 *
 * @module
 */
import { buildModules, libraryPath } from "./build.ts";

let built: Promise<unknown> | undefined;

/** @returns The library path of `module`, after making sure every module is built. */
export async function builtLibrary(module: string): Promise<string> {
  built ??= buildModules();
  await built;
  return libraryPath(module);
}
