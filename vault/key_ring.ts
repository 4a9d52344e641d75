/**
 * Encryption at rest: AES-256-GCM (WebCrypto) keys loaded from a key file. A key file holds one raw
 * 32-byte key, or text lines of 64 hex digits or base64 (newest first; blank lines and `#` comments are
 * skipped), and must not be readable by group or others. New writes use the first key; reads find the key
 * by the id stored beside each ciphertext (the first 8 hex digits of the key's SHA-256), so keys rotate by
 * prepending a new line and keeping the old ones until nothing written with them remains.
 *
 * @module
 */
import { VaultKeyError } from "./errors.ts";
import { GCM_IV_BYTES, KEY_BYTES, KEY_FILE_BYTES_MAX, KEYS_PER_FILE_MAX } from "./limits.ts";

/** A ciphertext with what is needed to open it. */
export interface Sealed {
  /** Key id: 8 hex digits. */
  kid: string;
  iv: Uint8Array;
  ct: Uint8Array;
}

/** The loaded keys. */
export class KeyRing {
  #keys: Map<string, CryptoKey>;
  #currentId: string;

  /** Use {@link loadKeyRing} or {@link KeyRing.fromKeys}. */
  constructor(keys: Map<string, CryptoKey>, currentId: string) {
    this.#keys = keys;
    this.#currentId = currentId;
  }

  /**
   * Builds a ring from raw keys, newest first.
   *
   * @throws {VaultKeyError} `VAULT_KEY_INVALID` for no key, too many, or a key that is not 32 bytes.
   */
  static async fromKeys(raw: Uint8Array[]): Promise<KeyRing> {
    if (raw.length === 0 || raw.length > KEYS_PER_FILE_MAX) {
      throw new VaultKeyError(
        "VAULT_KEY_INVALID",
        `Cannot load keys: ${raw.length} keys, expected 1 to ${KEYS_PER_FILE_MAX}`,
      );
    }
    const keys = new Map<string, CryptoKey>();
    for (const key of raw) {
      if (key.length !== KEY_BYTES) {
        throw new VaultKeyError(
          "VAULT_KEY_INVALID",
          `Cannot load key: ${key.length} bytes, expected ${KEY_BYTES}`,
        );
      }
      const id = await keyIdOf(key);
      const imported = await crypto.subtle.importKey("raw", plainBuffer(key), "AES-GCM", false, [
        "encrypt",
        "decrypt",
      ]);
      if (!keys.has(id)) keys.set(id, imported);
    }
    return new KeyRing(keys, await keyIdOf(raw[0]));
  }

  /** The id of the key new writes use. */
  get currentId(): string {
    return this.#currentId;
  }

  /** Ids of every loaded key, newest first. */
  get ids(): string[] {
    return [...this.#keys.keys()];
  }

  /** Encrypts with the newest key and a fresh random nonce. */
  async seal(plain: Uint8Array): Promise<Sealed> {
    const iv = crypto.getRandomValues(new Uint8Array(GCM_IV_BYTES));
    const key = this.#keys.get(this.#currentId)!;
    const ct = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plainBuffer(plain)));
    return { kid: this.#currentId, iv, ct };
  }

  /**
   * Decrypts and authenticates.
   *
   * @throws {VaultKeyError} `VAULT_KEY_UNKNOWN` when no loaded key has the id, `VAULT_KEY_INVALID` when the
   *   ciphertext fails authentication.
   */
  async open(sealed: Sealed): Promise<Uint8Array> {
    const key = this.#keys.get(sealed.kid);
    if (!key) {
      throw new VaultKeyError(
        "VAULT_KEY_UNKNOWN",
        `Cannot decrypt: key ${sealed.kid} is not in the key file (loaded: ${this.ids.join(", ")})`,
      );
    }
    try {
      return new Uint8Array(
        await crypto.subtle.decrypt(
          { name: "AES-GCM", iv: plainBuffer(sealed.iv) },
          key,
          plainBuffer(sealed.ct),
        ),
      );
    } catch (e) {
      throw new VaultKeyError(
        "VAULT_KEY_INVALID",
        `Cannot decrypt with key ${sealed.kid}: authentication failed`,
        {
          cause: e,
        },
      );
    }
  }
}

/** WebCrypto takes views of plain (not shared) buffers, which is all the vault ever makes. */
function plainBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes as Uint8Array<ArrayBuffer>;
}

/**
 * The id of a key: the first 8 hex digits of its SHA-256.
 *
 * @returns e.g. `"3fa91c0b"`.
 */
export async function keyIdOf(key: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", plainBuffer(key)));
  return [...digest.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Parses a key file's bytes.
 *
 * @returns The raw keys, newest first.
 * @throws {VaultKeyError} `VAULT_KEY_INVALID` when a line is neither 64 hex digits nor base64 of 32 bytes.
 */
export function parseKeyFile(bytes: Uint8Array): Uint8Array[] {
  if (bytes.length === KEY_BYTES) return [bytes.slice()];
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new VaultKeyError(
      "VAULT_KEY_INVALID",
      `Cannot parse key file: ${bytes.length} bytes, neither 32 raw nor text`,
    );
  }
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  return lines.map((line, i) => parseKeyLine(line, i + 1));
}

function parseKeyLine(line: string, lineNo: number): Uint8Array {
  if (/^[0-9a-fA-F]{64}$/.test(line)) {
    return Uint8Array.from(line.match(/../g)!.map((h) => parseInt(h, 16)));
  }
  try {
    const raw = Uint8Array.from(atob(line), (c) => c.charCodeAt(0));
    if (raw.length === KEY_BYTES) return raw;
  } catch {
    // Not base64 either: reported below.
  }
  throw new VaultKeyError(
    "VAULT_KEY_INVALID",
    `Cannot parse key file line ${lineNo}: not 64 hex digits nor base64 of 32 bytes`,
  );
}

/**
 * Loads a key file, refusing one that group or others may read.
 *
 * @param path The key file.
 * @returns The key ring.
 * @throws {VaultKeyError} `VAULT_KEY_INSECURE` for a permissive mode, `VAULT_KEY_INVALID` for bad content
 *   or an unreadable file.
 */
export async function loadKeyRing(path: string): Promise<KeyRing> {
  let info: Deno.FileInfo;
  let bytes: Uint8Array;
  try {
    info = await Deno.stat(path);
    if (info.size > KEY_FILE_BYTES_MAX) throw new Error(`${info.size} bytes exceed ${KEY_FILE_BYTES_MAX}`);
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new VaultKeyError("VAULT_KEY_INVALID", `Cannot read key file ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new VaultKeyError(
      "VAULT_KEY_INSECURE",
      `Cannot use key file ${path} as its mode must be 0600: current mode is 0${
        (info.mode & 0o777).toString(8)
      }`,
    );
  }
  return await KeyRing.fromKeys(parseKeyFile(bytes));
}

/**
 * Writes a new random key as a hex line to `path` with mode 0600. With `rotate`, the new key goes first
 * and the file's existing keys stay after it.
 *
 * @param path The key file (its directory must exist).
 * @param options `rotate` keeps existing keys. @default { rotate: false }
 * @returns The new key's id.
 * @throws {VaultKeyError} When rotating a file that is insecure or malformed.
 */
export async function createKeyFile(path: string, options: { rotate?: boolean } = {}): Promise<string> {
  const key = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  const lines = [[...key].map((b) => b.toString(16).padStart(2, "0")).join("")];
  if (options.rotate) {
    await loadKeyRing(path);
    for (const old of parseKeyFile(await Deno.readFile(path))) {
      lines.push([...old].map((b) => b.toString(16).padStart(2, "0")).join(""));
    }
  }
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, lines.slice(0, KEYS_PER_FILE_MAX).join("\n") + "\n", { mode: 0o600 });
  await Deno.chmod(tmp, 0o600);
  await Deno.rename(tmp, path);
  return await keyIdOf(key);
}
