/**
 * The regression set of each agent, kept forever in the vault's key-value store (namespace
 * {@link REGRESSIONS_NAMESPACE}, key `AGENT/ID`): every failure the red team found (shrunk), every
 * reproduction auto-fix made, every hypothesis feedback learning tested. Each later evaluation of the
 * agent runs the whole set: the supervisor's candidate path and every job's engine run.
 *
 * A record is `open` while the live version fails it and `fixed` once a promoted version passes it. Open
 * cases join evaluations as non-critical (a candidate that fixes one gets the arbiter's `fix` path; one
 * that does not is not blocked by a bug it did not make); fixed cases are critical: no candidate may
 * fail them again.
 *
 * Also here: reading an agent's literal eval cases from its source, without running it.
 *
 * @module
 */
import { parse as babelParse } from "@babel/parser";
import type { RegressionCase } from "./eval_result.ts";
import type { Node } from "./genome.ts";
import { keyOf } from "./input_shape.ts";

/** The kv namespace of regression records. */
export const REGRESSIONS_NAMESPACE = "regressions";
/** Most regression records kept per agent (the set joins every evaluation, so it must stay bounded). */
export const REGRESSIONS_PER_AGENT_MAX = 500;

/** Where a regression case came from. */
export type RegressionOrigin = "red-team" | "autofix" | "feedback";

/** One stored regression case. */
export interface RegressionRecord {
  agent: string;
  /** Stable id: a hash of the kind and the input (the same failure found twice is one record). */
  id: string;
  origin: RegressionOrigin;
  /** `crash`, `timeout`, `property`, `nonfinite`, `slow`, `unsendable`, `jail`, `feedback`, … */
  kind: string;
  /** Kind plus normalised message: failures of one bug share it. */
  signature: string;
  /** What the live version did when the case was found. */
  message: string;
  case: RegressionCase;
  status: "open" | "fixed";
  found_ms: number;
  /** The job that found it, if any. */
  found_by?: string;
  fixed_ms?: number;
  /** The live version that first passed it. */
  fixed_version?: string;
  /** Extra evidence (the feedback records behind a hypothesis, the log lines behind a reproduction). */
  evidence?: unknown;
}

/** The key-value part of the vault the store needs. */
export interface KvStore {
  kvPut(ns: string, key: string, value: unknown): Promise<void>;
  kvGet(ns: string, key: string): Promise<unknown>;
  kvList(
    ns: string,
    options?: { prefix?: string; limit?: number },
  ): Promise<{ key: string; value: unknown }[]>;
}

/** A 64-bit FNV-1a hash in hex, for stable ids. */
export function stableId(text: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    h1 = Math.imul(h1 ^ text.charCodeAt(i), 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ text.charCodeAt(i), 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0");
}

/** The id of a case: its kind, its input and what it checks. */
export function regressionId(kind: string, c: RegressionCase): string {
  const checks = c.answers
    ? `a:${c.has_avoid ? keyOf(c.avoid) : ""}:${c.properties ? 1 : 0}`
    : `e:${keyOf(c.expect)}`;
  return stableId(`${kind}\u0000${keyOf(c.input)}\u0000${checks}`);
}

/** The regression sets of all agents, over a kv store. */
export class RegressionStore {
  readonly #kv: KvStore;

  /** @param kv The vault (or any kv store). */
  constructor(kv: KvStore) {
    this.#kv = kv;
  }

  /** Every record of an agent, oldest first. */
  async list(agent: string): Promise<RegressionRecord[]> {
    const rows = await this.#kv.kvList(REGRESSIONS_NAMESPACE, { prefix: `${agent}/` });
    return rows.map((r) => r.value as RegressionRecord).filter((r) => r?.agent === agent)
      .sort((a, b) => a.found_ms - b.found_ms || (a.id < b.id ? -1 : 1));
  }

  /**
   * Adds records not yet stored (by id); existing ones are kept as they are.
   *
   * @returns The records that were new.
   */
  async add(records: readonly RegressionRecord[]): Promise<RegressionRecord[]> {
    const added: RegressionRecord[] = [];
    for (const r of records) {
      const have = await this.#kv.kvGet(REGRESSIONS_NAMESPACE, `${r.agent}/${r.id}`);
      if (have !== undefined && have !== null) continue;
      const count = (await this.list(r.agent)).length;
      if (count >= REGRESSIONS_PER_AGENT_MAX) break;
      await this.#kv.kvPut(REGRESSIONS_NAMESPACE, `${r.agent}/${r.id}`, r);
      added.push(r);
    }
    return added;
  }

  /**
   * Records which cases the live version passes now.
   *
   * @param agent The agent.
   * @param passing Ids of the records the live version passes.
   * @param version The live version.
   * @returns The records that changed status.
   */
  async updateStatus(
    agent: string,
    passing: ReadonlySet<string>,
    version: string,
  ): Promise<RegressionRecord[]> {
    const changed: RegressionRecord[] = [];
    for (const r of await this.list(agent)) {
      const status = passing.has(r.id) ? "fixed" : "open";
      if (status === r.status) continue;
      const next: RegressionRecord = status === "fixed"
        ? { ...r, status, fixed_ms: Date.now(), fixed_version: version }
        : { ...r, status };
      await this.#kv.kvPut(REGRESSIONS_NAMESPACE, `${agent}/${r.id}`, next);
      changed.push(next);
    }
    return changed;
  }

  /** The cases of an agent as an evaluation runs them (fixed ones critical, open ones not). */
  async cases(agent: string): Promise<RegressionCase[]> {
    return toCases(await this.list(agent));
  }
}

/** Records as evaluation cases: fixed ones critical, open ones not. */
export function toCases(records: readonly RegressionRecord[]): RegressionCase[] {
  return records.map((r) => ({ ...r.case, critical: r.status === "fixed" }));
}

/** One eval case of a source, as far as it is literal. */
export interface LiteralCase {
  input: unknown;
  /** The literal `expect`, when there is one. */
  expect?: unknown;
  hasExpect: boolean;
  /** The case has a `score` function. */
  scored: boolean;
}

class NotLiteral extends Error {}

/** The value of a literal expression (objects, arrays, numbers, strings, booleans, null, -x, NaN…). */
function literalValue(n: Node): unknown {
  switch (n.type) {
    case "NumericLiteral":
    case "StringLiteral":
    case "BooleanLiteral":
      return n.value;
    case "NullLiteral":
      return null;
    case "Identifier":
      if (n.name === "NaN") return NaN;
      if (n.name === "Infinity") return Infinity;
      if (n.name === "undefined") return null;
      throw new NotLiteral();
    case "UnaryExpression": {
      const v = literalValue(n.argument);
      if (typeof v !== "number" || (n.operator !== "-" && n.operator !== "+")) throw new NotLiteral();
      return n.operator === "-" ? -v : v;
    }
    case "TemplateLiteral":
      if (n.expressions.length > 0) throw new NotLiteral();
      return n.quasis.map((q: Node) => q.value.cooked).join("");
    case "ArrayExpression":
      return n.elements.map((e: Node | null) => {
        if (e === null || e.type === "SpreadElement") throw new NotLiteral();
        return literalValue(e);
      });
    case "ObjectExpression": {
      const out: Record<string, unknown> = {};
      for (const p of n.properties as Node[]) {
        if (p.type !== "ObjectProperty" || p.computed) throw new NotLiteral();
        const key = p.key.type === "Identifier" ? p.key.name : String(p.key.value);
        out[key] = literalValue(p.value);
      }
      return out;
    }
    case "TSAsExpression":
    case "TSSatisfiesExpression":
    case "TSNonNullExpression":
      return literalValue(n.expression);
    default:
      throw new NotLiteral();
  }
}

function propertyOf(obj: Node, name: string): Node | undefined {
  return (obj.properties as Node[]).find((p) =>
    (p.type === "ObjectProperty" || p.type === "ObjectMethod") && !p.computed &&
    (p.key.type === "Identifier" ? p.key.name : p.key.value) === name
  );
}

/** The `defineAgent({...})` spec object of a module, or `null`. */
export function agentSpecNode(program: Node): Node | null {
  for (const stmt of program.body as Node[]) {
    if (stmt.type !== "ExportDefaultDeclaration") continue;
    const d = stmt.declaration;
    if (d?.type === "CallExpression" && d.arguments[0]?.type === "ObjectExpression") return d.arguments[0];
  }
  return null;
}

/**
 * The eval cases of an agent source whose input is a literal (computed inputs are skipped).
 *
 * @param source An agent module's source.
 * @returns The literal cases, in order; empty when the source does not parse.
 */
export function literalEvalCases(source: string): LiteralCase[] {
  let file: Node;
  try {
    file = babelParse(source, { sourceType: "module", plugins: ["typescript"] }) as unknown as Node;
  } catch {
    return [];
  }
  const spec = agentSpecNode(file.program);
  const evals = spec && propertyOf(spec, "evals");
  if (!evals || evals.type !== "ObjectProperty" || evals.value.type !== "ArrayExpression") return [];
  const out: LiteralCase[] = [];
  for (const e of evals.value.elements as (Node | null)[]) {
    if (e?.type !== "ObjectExpression") continue;
    const input = propertyOf(e, "input");
    if (input?.type !== "ObjectProperty") continue;
    try {
      const c: LiteralCase = {
        input: literalValue(input.value),
        hasExpect: false,
        scored: propertyOf(e, "score") !== undefined,
      };
      const expect = propertyOf(e, "expect");
      if (expect?.type === "ObjectProperty") {
        try {
          c.expect = literalValue(expect.value);
          c.hasExpect = true;
        } catch (err) {
          if (!(err instanceof NotLiteral)) throw err;
        }
      }
      out.push(c);
    } catch (err) {
      if (!(err instanceof NotLiteral)) throw err;
    }
  }
  return out;
}

/** The literal `name` of an agent source's spec, or `null`. */
export function agentNameOf(source: string): string | null {
  try {
    const file = babelParse(source, { sourceType: "module", plugins: ["typescript"] }) as unknown as Node;
    const spec = agentSpecNode(file.program);
    const name = spec && propertyOf(spec, "name");
    return name?.type === "ObjectProperty" && name.value.type === "StringLiteral" ? name.value.value : null;
  } catch {
    return null;
  }
}
