/**
 * The `file_read` tool: reads a UTF-8 file inside the agent's granted directory. The path is resolved
 * with every symlink followed and must stay inside the grant's real path, so a link out is refused.
 *
 * @module
 */
import { ToolError } from "../../protocol/mod.ts";
import { isAbsolute, resolve, sep as SEPARATOR } from "node:path";

/** Largest file `file_read` returns, in bytes. */
export const FILE_READ_BYTES_MAX = 1024 * 1024;

/**
 * Reads `path` (relative to `grantDir`, or absolute inside it).
 *
 * @param grantDir The directory the agent may read.
 * @param path The requested path.
 * @returns The file's text.
 * @throws {ToolError} `TOOL_BAD_ARGS`, `FILE_OUTSIDE_GRANT`, `FILE_NOT_FOUND`, `FILE_TOO_LARGE`.
 */
export async function fileRead(grantDir: string | undefined, path: unknown): Promise<string> {
  if (grantDir === undefined) {
    throw new ToolError("FILE_NO_GRANT", "Cannot read file: this agent has no granted directory");
  }
  if (typeof path !== "string" || path.length === 0 || path.includes("\0")) {
    throw new ToolError("TOOL_BAD_ARGS", "Cannot read file: path must be a non-empty string");
  }
  let root: string;
  try {
    root = await Deno.realPath(grantDir);
  } catch {
    throw new ToolError("FILE_NO_GRANT", `Cannot read file: the granted directory does not exist`);
  }
  const wanted = isAbsolute(path) ? path : resolve(root, path);
  let real: string;
  try {
    real = await Deno.realPath(wanted);
  } catch {
    // Do not reveal whether a path outside the grant exists.
    if (!isInside(root, resolve(wanted))) throw outside(path);
    throw new ToolError("FILE_NOT_FOUND", `Cannot read file '${path}': not found`);
  }
  if (!isInside(root, real)) throw outside(path);
  const info = await Deno.stat(real);
  if (!info.isFile) throw new ToolError("FILE_NOT_FOUND", `Cannot read file '${path}': not a regular file`);
  if (info.size > FILE_READ_BYTES_MAX) {
    throw new ToolError(
      "FILE_TOO_LARGE",
      `Cannot read file '${path}': ${info.size} bytes exceeds ${FILE_READ_BYTES_MAX}`,
    );
  }
  return await Deno.readTextFile(real);
}

function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(SEPARATOR) ? root : root + SEPARATOR);
}

function outside(path: string): ToolError {
  return new ToolError("FILE_OUTSIDE_GRANT", `Cannot read file '${path}': outside the granted directory`);
}
