/**
 * `main.ts key create FILE [--rotate]`: makes an at-rest encryption key (AES-256, mode 0600). Without
 * `--rotate` an existing file is never overwritten (losing a key loses the data written with it); with
 * it, a new key is put first and the old ones are kept so records written with them stay readable.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createKeyFile } from "../vault/mod.ts";

/** Usage of `main.ts key`. */
export const KEY_USAGE = `Usage: main.ts key create FILE [--rotate]

Creates an at-rest encryption key file (mode 0600) for --encryption-key-file. With --rotate, adds a new
key in front of the existing ones: new writes use it, older records stay readable.

Options:
  --rotate     add a key to an existing file instead of refusing to touch it
  -h, --help   show this help`;

/** `main.ts key`. @returns The exit code. */
export async function keyCommand(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: { rotate: { type: "boolean" }, help: { type: "boolean", short: "h" } },
    });
  } catch (e) {
    console.error(`key: ${e instanceof Error ? e.message : e}\n\n${KEY_USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(KEY_USAGE);
    return 0;
  }
  const [sub, file, ...extra] = parsed.positionals;
  if (sub !== "create" || file === undefined || extra.length > 0) {
    console.error(`key: expected 'create FILE'\n\n${KEY_USAGE}`);
    return 2;
  }
  const exists = await Deno.stat(file).then(() => true, () => false);
  if (exists && !parsed.values.rotate) {
    console.error(`key: ${file} exists; use --rotate to add a key to it (never overwritten)`);
    return 1;
  }
  try {
    const id = await createKeyFile(file, { rotate: exists });
    console.log(`key ${id} written to ${file}${exists ? " (rotated; older keys kept)" : ""}`);
    return 0;
  } catch (e) {
    console.error(`key: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
}
