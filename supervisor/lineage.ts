/**
 * Lineage: every version an agent has run, with its parent, the operator that made it, its fitness and
 * the evidence of the decision that promoted it — in the vault, served by `GET …/lineage`, usable for a
 * one-call rollback, and exportable as a git history (one commit per version) for diff and blame.
 *
 * @module
 */
import { join } from "node:path";
import { SupervisorError } from "./errors.ts";

/** The kv namespace of lineage entries (key `AGENT/VERSION`). */
export const LINEAGE_NAMESPACE = "lineage";

/** One version of an agent. */
export interface LineageEntry {
  agent: string;
  version: string;
  parent: string | null;
  /** `initial`, `submitted`, `evolve`, `autofix`, `rollback`, … */
  operator: string;
  candidate?: string;
  fitness?: number | null;
  decision?: unknown;
  source: string;
  created_ms: number;
}

/** The store lineage lives in (the vault's key-value table). */
export interface LineageStore {
  kvPut(ns: string, key: string, value: unknown): Promise<void>;
  kvGet(ns: string, key: string): Promise<unknown>;
  kvList(ns: string, options?: { prefix?: string }): Promise<{ key: string; value: unknown }[]>;
}

/** Reads and writes lineage entries. */
export class Lineage {
  readonly #store: LineageStore;

  constructor(store: LineageStore) {
    this.#store = store;
  }

  /** Records a version (replacing an entry with the same agent and version). */
  async record(entry: Omit<LineageEntry, "created_ms"> & { created_ms?: number }): Promise<LineageEntry> {
    const full: LineageEntry = { ...entry, created_ms: entry.created_ms ?? Date.now() };
    await this.#store.kvPut(LINEAGE_NAMESPACE, `${entry.agent}/${entry.version}`, full);
    return full;
  }

  /**
   * Records a version that started without a decision (the first one, or new code an operator
   * registered), unless the lineage has it already.
   */
  async ensureVersion(agent: string, version: string, source: string): Promise<void> {
    const entries = await this.list(agent);
    if (entries.some((e) => e.version === version)) return;
    const parent = entries.at(-1)?.version ?? null;
    await this.record({
      agent,
      version,
      parent,
      operator: parent === null ? "initial" : "registered",
      source,
    });
  }

  /** Every version of an agent, oldest first. */
  async list(agent: string): Promise<LineageEntry[]> {
    const rows = await this.#store.kvList(LINEAGE_NAMESPACE, { prefix: `${agent}/` });
    return rows.map((r) => r.value as LineageEntry).filter((e) => e.agent === agent)
      .sort((a, b) => a.created_ms - b.created_ms || (a.version < b.version ? -1 : 1));
  }

  /** One version. @throws {SupervisorError} `NOT_FOUND`. */
  async get(agent: string, version: string): Promise<LineageEntry> {
    const entry = await this.#store.kvGet(LINEAGE_NAMESPACE, `${agent}/${version}`) as
      | LineageEntry
      | undefined;
    if (entry === undefined || entry === null) {
      throw new SupervisorError("NOT_FOUND", `Cannot find version '${version}' of '${agent}'`);
    }
    return entry;
  }

  /**
   * Writes the lineage as a git repository in `dir`: one commit per version, oldest first, the file
   * `AGENT.ts` holding the code and the message naming operator, parent and decision.
   *
   * @returns The number of commits made.
   */
  async exportGit(agent: string, dir: string): Promise<number> {
    const entries = await this.list(agent);
    await Deno.mkdir(dir, { recursive: true });
    await git(dir, ["init", "-q"]);
    for (const e of entries) {
      await Deno.writeTextFile(join(dir, `${agent}.ts`), e.source);
      await git(dir, ["add", `${agent}.ts`]);
      const decision = e.decision === undefined ? "" : `\n\nDecision: ${JSON.stringify(e.decision)}`;
      const subject = `${agent} ${e.version} (${e.operator}${e.parent ? `, parent ${e.parent}` : ""})`;
      const date = new Date(e.created_ms).toISOString();
      await git(dir, ["commit", "-q", "--allow-empty", "-m", subject + decision, "--date", date], {
        GIT_COMMITTER_DATE: date,
      });
    }
    return entries.length;
  }
}

async function git(cwd: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  const out = await new Deno.Command("git", {
    args: ["-c", "user.name=O", "-c", "user.email=o@localhost", "-c", "commit.gpgsign=false", ...args],
    cwd,
    env,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`git ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
}
