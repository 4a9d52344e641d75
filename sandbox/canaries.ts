/**
 * Canaries for the escape audit: secrets and tripwires outside the sandbox, made fresh for every case,
 * so an escape is detected rather than assumed. A case escaped when a secret shows up in anything the
 * sandbox produced, when its TCP listener saw a connection, when a file appeared where the sandbox must
 * not write, or when a protected file changed.
 *
 * Per case: a directory (outside every sandbox bind) holding a secret text file, a secret JSON file, a
 * secret module, a SQLite database with the secret in a table, a dotenv file, a symlink to the secret,
 * and a path that must stay absent; a TCP listener on 127.0.0.1 at a random port. Per audit: a secret
 * environment variable set in the auditing process itself.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";

/** What a probe is told about its canaries (names and places, never the secrets themselves). */
export interface CanaryInfo {
  /** Directory holding the case's canaries. */
  dir: string;
  /** A text file whose content is the file secret. */
  secretPath: string;
  /** A JSON file `{"secret": …}`. */
  secretJsonPath: string;
  /** A module `export default "…"` with the secret. */
  secretModulePath: string;
  /** A SQLite database with table `t(secret)`. */
  secretDbPath: string;
  /** A dotenv file `O_AUDIT_DOTENV=…`. */
  secretEnvFilePath: string;
  /** A symlink to the secret text file. */
  secretLinkPath: string;
  /** A path that must not exist after the case. */
  writePath: string;
  /** The TCP listener's port on 127.0.0.1. */
  port: number;
  /** The name of the environment variable set in the auditing process. */
  envName: string;
  /** A fresh token a persistence probe stores in its first run and looks for in its second. */
  persistToken: string;
  /** A directory bound read-only into the sandbox, holding a symlink `link` to the secret. */
  boundDir: string;
  /** A Unix socket listening in the case's directory. */
  socketPath: string;
  /** A host process the sandbox must not be able to signal. */
  victimPid: number;
}

/** Tripwires of one case, checked after it ran. */
export class CaseCanaries {
  readonly info: CanaryInfo;
  readonly #fileSecret: string;
  readonly #envSecret: string;
  readonly #listeners: Deno.Listener[];
  #connections = 0;
  readonly #accepting: Promise<void>[];
  readonly #victim: Deno.ChildProcess;
  #victimExited = false;

  /** Use {@link createCaseCanaries}. */
  constructor(
    info: CanaryInfo,
    secrets: { file: string; env: string },
    listeners: Deno.Listener[],
    victim: Deno.ChildProcess,
  ) {
    this.info = info;
    this.#fileSecret = secrets.file;
    this.#envSecret = secrets.env;
    this.#listeners = listeners;
    this.#accepting = listeners.map((l) => this.#accept(l));
    this.#victim = victim;
    victim.status.then(() => this.#victimExited = true);
  }

  async #accept(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) {
        this.#connections++;
        conn.close();
      }
    } catch {
      // Listener closed.
    }
  }

  /** Connections the listener accepted. */
  get connections(): number {
    return this.#connections;
  }

  /**
   * Lists what escaped, judged from everything the sandbox produced.
   *
   * @param outputs stdout, stderr and the JSON result of every run of the case.
   * @returns One line per tripped canary; empty when nothing escaped.
   */
  tripped(outputs: string[]): string[] {
    const found: string[] = [];
    const all = outputs.join("\n");
    if (all.includes(this.#fileSecret)) found.push("read the secret file");
    if (all.includes(this.#envSecret)) found.push("read the secret environment variable");
    if (this.#connections > 0) found.push(`connected to a host listener (${this.#connections}x)`);
    if (this.#victimExited) found.push("killed a host process");
    try {
      Deno.lstatSync(this.info.writePath);
      found.push("wrote outside the sandbox");
    } catch {
      // Absent, as it must be.
    }
    return found;
  }

  /** Closes the listener and removes the case's files. */
  async dispose(): Promise<void> {
    for (const l of this.#listeners) l.close();
    await Promise.all(this.#accepting);
    if (!this.#victimExited) this.#victim.kill("SIGKILL");
    await this.#victim.status;
    await Deno.remove(this.info.dir, { recursive: true }).catch(() => {});
    await Deno.remove(this.info.boundDir, { recursive: true }).catch(() => {});
  }
}

function token(kind: string): string {
  return `O-CANARY-${kind}-${crypto.randomUUID()}`;
}

/**
 * Creates one case's canaries.
 *
 * @param envName Name of the audit's secret environment variable.
 * @param envSecret Its value (to detect it in output).
 * @returns The canaries; dispose them after the case.
 */
export function createCaseCanaries(envName: string, envSecret: string): CaseCanaries {
  const dir = Deno.makeTempDirSync({ prefix: "o-audit-canary-" });
  const boundDir = Deno.makeTempDirSync({ prefix: "o-audit-bound-" });
  const fileSecret = token("FILE");
  const info: CanaryInfo = {
    dir,
    secretPath: `${dir}/secret.txt`,
    secretJsonPath: `${dir}/secret.json`,
    secretModulePath: `${dir}/secret.js`,
    secretDbPath: `${dir}/secret.db`,
    secretEnvFilePath: `${dir}/secret.env`,
    secretLinkPath: `${dir}/link.txt`,
    writePath: `${dir}/written-by-sandbox`,
    port: 0,
    envName,
    persistToken: token("PERSIST"),
    boundDir,
    socketPath: `${dir}/canary.sock`,
    victimPid: 0,
  };
  Deno.writeTextFileSync(info.secretPath, fileSecret);
  Deno.writeTextFileSync(info.secretJsonPath, JSON.stringify({ secret: fileSecret }));
  Deno.writeTextFileSync(info.secretModulePath, `export default ${JSON.stringify(fileSecret)};\n`);
  Deno.writeTextFileSync(info.secretEnvFilePath, `O_AUDIT_DOTENV=${fileSecret}\n`);
  Deno.symlinkSync(info.secretPath, info.secretLinkPath);
  Deno.symlinkSync(info.secretPath, `${boundDir}/link`);
  Deno.symlinkSync("/", `${boundDir}/root`);
  const db = new DatabaseSync(info.secretDbPath);
  db.exec("CREATE TABLE t(secret TEXT)");
  db.prepare("INSERT INTO t VALUES (?)").run(fileSecret);
  db.close();
  const tcp = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  info.port = (tcp.addr as Deno.NetAddr).port;
  const unix = Deno.listen({ transport: "unix", path: info.socketPath });
  const victim = new Deno.Command("sleep", { args: ["600"], stdin: "null", stdout: "null", stderr: "null" })
    .spawn();
  info.victimPid = victim.pid;
  return new CaseCanaries(info, { file: fileSecret, env: envSecret }, [tcp, unix], victim);
}
