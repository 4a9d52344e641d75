/**
 * The genome: an agent module's TypeScript AST (npm `recast` over `@babel/parser` with the `typescript`
 * plugin, so printing keeps the formatting of every untouched line), its mutable regions, and the printed
 * source.
 *
 * A region is a named subtree the engine may change: a top-level function (declaration, or a `const`
 * bound to an arrow or function expression), a function-valued property of the `defineAgent({...})` spec
 * (`handle`, `init`, …), or a top-level `const` initialised with a value. When the spec declares
 * `evolve: { targets: [...] }`, only regions with those names are mutable. Never mutable, whatever the
 * targets say: `name`, `version` and `evals` (the contract), and `doc`, `tools` and `evolve` (changing
 * them would change the agent's identity or its grants, not its behaviour), imports, and type declarations.
 *
 * Nodes are addressed by their path of keys from the root; the parse is deterministic, so a path taken
 * in one parse finds the same node in a fresh parse of the same source. Operators rely on that: each one
 * re-parses its parent and changes the fresh tree, so genomes stay immutable.
 *
 * @module
 */
import { parse as babelParse } from "@babel/parser";
import * as recast from "recast";
import { assert } from "../protocol/mod.ts";
import { GenomeError } from "./errors.ts";
import { GENOME_NODES_MAX, GENOME_SOURCE_BYTES_MAX } from "./limits.ts";

/** A loosely typed AST node (Babel's ESTree-like shape). */
// deno-lint-ignore no-explicit-any
export type Node = { type: string; [key: string]: any };

/** A path of keys from the root of the AST to a node. */
export type NodePath = readonly (string | number)[];

/** A named mutable subtree. */
export interface Region {
  /** The function, spec property or constant's name. */
  name: string;
  /** `function` for code, `value` for a constant's initialiser. */
  kind: "function" | "value";
  /** Path of the region's root: the function node, or the constant's initialiser. */
  path: NodePath;
}

/** A parsed agent module. Treat it as immutable: operators work on fresh parses. */
export interface Genome {
  readonly source: string;
  /** The recast `File` node. */
  readonly ast: Node;
  /** Mutable regions, in source order. */
  readonly regions: readonly Region[];
  /** `evolve.targets` as declared, or `null` when the spec declares none. */
  readonly targets: readonly string[] | null;
}

/** Spec properties that are never mutated (see the module doc for why). */
export const PROTECTED_SPEC_KEYS: readonly string[] = ["name", "version", "evals", "doc", "tools", "evolve"];
/** Keys that hold no child node (positions, tokens, comments, recast's back-links). */
const SKIPPED_KEYS = new Set([
  "loc",
  "start",
  "end",
  "range",
  "tokens",
  "comments",
  "leadingComments",
  "trailingComments",
  "innerComments",
  "extra",
  "original",
  "type",
  "errors",
]);
const FUNCTION_TYPES = new Set([
  "FunctionDeclaration",
  "FunctionExpression",
  "ArrowFunctionExpression",
  "ObjectMethod",
]);

/**
 * Parses TypeScript module source (recast over Babel), keeping what recast needs to reprint it.
 *
 * @param source Module source.
 * @returns The `File` node.
 * @throws {GenomeError} `GENOME_TOO_LARGE` over {@link GENOME_SOURCE_BYTES_MAX}; `GENOME_PARSE` on a syntax error.
 */
export function parseModule(source: string): Node {
  if (source.length > GENOME_SOURCE_BYTES_MAX) {
    throw new GenomeError(
      "GENOME_TOO_LARGE",
      `Cannot parse genome as the source is over ${GENOME_SOURCE_BYTES_MAX} characters: current length is ${source.length}`,
    );
  }
  try {
    return recast.parse(source, {
      parser: {
        parse: (text: string) =>
          babelParse(text, { sourceType: "module", plugins: ["typescript"], tokens: true }),
      },
    }) as Node;
  } catch (e) {
    throw new GenomeError("GENOME_PARSE", `Cannot parse genome: ${e instanceof Error ? e.message : e}`);
  }
}

/**
 * Parses an agent module into a genome.
 *
 * @param source The agent module's source.
 * @returns The genome with its mutable regions.
 * @throws {GenomeError} When the source does not parse or has no `export default defineAgent({...})`.
 */
export function parseGenome(source: string): Genome {
  const ast = parseModule(source);
  const spec = findAgentSpec(ast);
  if (spec === null) {
    throw new GenomeError(
      "GENOME_NO_AGENT",
      "Cannot find the agent: the module must end in `export default defineAgent({...})`",
    );
  }
  const targets = declaredTargets(ast, spec);
  return { source, ast, regions: findRegions(ast, spec, targets), targets };
}

/**
 * Prints an AST back to source; untouched lines keep their exact formatting.
 *
 * @param ast A `File` node from {@link parseModule} (possibly changed).
 * @returns The module source.
 */
export function printModule(ast: Node): string {
  return recast.print(ast).code;
}

/**
 * Prints a genome back to source.
 *
 * @param genome The genome.
 * @returns Its source (equal to `genome.source` for an unchanged genome).
 */
export function printGenome(genome: Genome): string {
  return printModule(genome.ast);
}

/**
 * @param root Where to start.
 * @param path A path from {@link walk} or a region.
 * @returns The node at `path`.
 */
export function nodeAt(root: Node, path: NodePath): Node {
  // deno-lint-ignore no-explicit-any
  let at: any = root;
  for (const key of path) {
    at = at?.[key];
    assert(at !== undefined, `A genome path must lead to a node: ${path.join(".")}`);
  }
  return at as Node;
}

/**
 * Replaces the node at `path` (the tree is changed in place).
 *
 * @param root The tree.
 * @param path Where.
 * @param replacement The new node.
 */
export function replaceAt(root: Node, path: NodePath, replacement: Node): void {
  assert(path.length > 0, "Cannot replace the root of a genome");
  const parent = nodeAt(root, path.slice(0, -1)) as unknown as Record<string | number, unknown>;
  parent[path[path.length - 1]] = replacement;
}

/** One node met by {@link walk}. */
export interface Visit {
  node: Node;
  path: NodePath;
  /** The key under which the node hangs in its parent (for arrays: the array's key). */
  key: string | number | null;
  parent: Node | null;
}

/**
 * Every node under `root` in source order (depth first, pre-order), with its path; bounded by
 * {@link GENOME_NODES_MAX}. `skip` prunes a subtree (the node itself is still visited).
 *
 * @param root Where to start.
 * @param base The path of `root`.
 * @param skip Whether to leave a node's children out.
 * @returns The visits.
 */
export function walk(root: Node, base: NodePath = [], skip?: (v: Visit) => boolean): Visit[] {
  const out: Visit[] = [];
  const stack: Visit[] = [{ node: root, path: base, key: null, parent: null }];
  while (stack.length > 0) {
    const visit = stack.pop()!;
    out.push(visit);
    assert(out.length <= GENOME_NODES_MAX, `A genome must have at most ${GENOME_NODES_MAX} nodes`);
    if (skip?.(visit)) continue;
    const children: Visit[] = [];
    for (const key of Object.keys(visit.node)) {
      if (SKIPPED_KEYS.has(key)) continue;
      const value = visit.node[key];
      if (Array.isArray(value)) {
        value.forEach((child, i) => {
          if (isNode(child)) {
            children.push({ node: child, path: [...visit.path, key, i], key, parent: visit.node });
          }
        });
      } else if (isNode(value)) {
        children.push({ node: value, path: [...visit.path, key], key, parent: visit.node });
      }
    }
    for (let i = children.length - 1; i >= 0; i--) stack.push(children[i]);
  }
  return out;
}

/** @returns Whether `value` looks like an AST node. */
export function isNode(value: unknown): value is Node {
  return typeof value === "object" && value !== null && typeof (value as Node).type === "string";
}

/** @returns Whether `node` is a function of any form. */
export function isFunction(node: Node): boolean {
  return FUNCTION_TYPES.has(node.type);
}

/** Whether a subtree holds types only (never mutated: it cannot change behaviour). */
export function isTypeNode(node: Node): boolean {
  return node.type.startsWith("TS") && node.type !== "TSAsExpression" &&
    node.type !== "TSNonNullExpression" &&
    node.type !== "TSSatisfiesExpression";
}

/**
 * The nodes inside the genome's regions (type annotations and nested type declarations left out), each
 * with its region. This is what every operator chooses from.
 *
 * @param genome The genome.
 * @returns The visits, region by region, in source order.
 */
export function regionNodes(genome: Genome): { region: Region; visit: Visit }[] {
  const out: { region: Region; visit: Visit }[] = [];
  for (const region of genome.regions) {
    const root = nodeAt(genome.ast, region.path);
    for (const visit of walk(root, region.path, (v) => isTypeNode(v.node))) {
      if (!isTypeNode(visit.node)) out.push({ region, visit });
    }
  }
  return out;
}

/** The property name of an object property or method, if it is a plain identifier or string key. */
export function propertyName(prop: Node): string | null {
  if (prop.computed) return null;
  const key = prop.key;
  if (key?.type === "Identifier") return key.name;
  if (key?.type === "StringLiteral") return key.value;
  return null;
}

/** The spec object of `export default defineAgent({...})`, or `null`. */
function findAgentSpec(ast: Node): { node: Node; path: NodePath } | null {
  const body: Node[] = ast.program.body;
  for (let i = 0; i < body.length; i++) {
    const stmt = body[i];
    if (stmt.type !== "ExportDefaultDeclaration") continue;
    let call = stmt.declaration;
    const path: (string | number)[] = ["program", "body", i, "declaration"];
    while (call?.type === "TSAsExpression" || call?.type === "TSSatisfiesExpression") {
      call = call.expression;
      path.push("expression");
    }
    if (call?.type !== "CallExpression" || call.callee?.type !== "Identifier") return null;
    const arg = call.arguments[0];
    if (arg?.type !== "ObjectExpression") return null;
    return { node: arg, path: [...path, "arguments", 0] };
  }
  return null;
}

function declaredTargets(_ast: Node, spec: { node: Node }): string[] | null {
  const evolve = (spec.node.properties as Node[]).find((p) =>
    p.type === "ObjectProperty" && propertyName(p) === "evolve"
  );
  if (evolve?.value?.type !== "ObjectExpression") return null;
  const targets = (evolve.value.properties as Node[]).find((p) => propertyName(p) === "targets");
  if (targets?.value?.type !== "ArrayExpression") return null;
  return (targets.value.elements as Node[])
    .filter((e) => e?.type === "StringLiteral")
    .map((e) => e.value as string);
}

function findRegions(ast: Node, spec: { node: Node; path: NodePath }, targets: string[] | null): Region[] {
  const regions: Region[] = [];
  const body: Node[] = ast.program.body;
  body.forEach((raw, i) => {
    let stmt = raw;
    const path: (string | number)[] = ["program", "body", i];
    if ((stmt.type === "ExportNamedDeclaration") && stmt.declaration) {
      stmt = stmt.declaration;
      path.push("declaration");
    }
    if (stmt.type === "FunctionDeclaration" && stmt.id) {
      regions.push({ name: stmt.id.name, kind: "function", path });
    } else if (stmt.type === "VariableDeclaration") {
      (stmt.declarations as Node[]).forEach((d, j) => {
        if (d.id?.type !== "Identifier" || !d.init) return;
        const kind = isFunction(d.init) ? "function" : "value";
        regions.push({ name: d.id.name, kind, path: [...path, "declarations", j, "init"] });
      });
    }
  });
  (spec.node.properties as Node[]).forEach((prop, i) => {
    const name = propertyName(prop);
    if (name === null || PROTECTED_SPEC_KEYS.includes(name)) return;
    const path = [...spec.path, "properties", i];
    if (prop.type === "ObjectMethod") regions.push({ name, kind: "function", path });
    else if (prop.type === "ObjectProperty" && isFunction(prop.value)) {
      regions.push({ name, kind: "function", path: [...path, "value"] });
    }
  });
  regions.sort((a, b) => comparePaths(a.path, b.path));
  return targets === null
    ? reachable(ast, regions, spec.path)
    : regions.filter((r) => targets.includes(r.name));
}

/**
 * Without declared targets, only regions the agent's code can reach: the spec's own functions, and
 * top-level names they refer to, transitively. A helper only the evals use (or dead code) is left out,
 * since changing it cannot change the agent's behaviour and would only cost evaluations.
 */
function reachable(ast: Node, regions: Region[], specPath: NodePath): Region[] {
  const inSpec = (r: Region) => comparePaths(r.path.slice(0, specPath.length), specPath) === 0;
  const keep = new Set(regions.filter(inSpec).map((r) => r.name));
  const byName = new Map(regions.map((r) => [r.name, r]));
  const queue = [...keep];
  for (let i = 0; i < queue.length; i++) {
    const region = regions.find((r) => r.name === queue[i])!;
    for (const v of walk(nodeAt(ast, region.path), region.path)) {
      if (v.node.type !== "Identifier" || keep.has(v.node.name) || !byName.has(v.node.name)) continue;
      keep.add(v.node.name);
      queue.push(v.node.name);
    }
  }
  return regions.filter((r) => keep.has(r.name));
}

function comparePaths(a: NodePath, b: NodePath): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    if (typeof a[i] === "number" && typeof b[i] === "number") return (a[i] as number) - (b[i] as number);
    return String(a[i]) < String(b[i]) ? -1 : 1;
  }
  return a.length - b.length;
}

/**
 * A hash of the source with comments, whitespace and literal spelling normalised away, so near-duplicates
 * (same tokens, different layout) hash alike.
 *
 * @param source Module source.
 * @returns 16 hex digits (two 32-bit FNV-1a lanes).
 */
export function normalizedHash(source: string): string {
  const text = normalizedTokens(source).join("\u0001");
  return fnv1a(text, 0x811c9dc5) + fnv1a(text, 0x01000193);
}

/**
 * The source's tokens without comments or layout (numbers in canonical spelling); a source that does not
 * parse gives its whitespace-separated words.
 *
 * @param source Module source.
 * @returns The tokens, in order.
 */
export function normalizedTokens(source: string): string[] {
  try {
    const file = babelParse(source, { sourceType: "module", plugins: ["typescript"], tokens: true });
    // deno-lint-ignore no-explicit-any
    return (file.tokens as any[])
      .filter((t) => typeof t.type === "object")
      .map((t) =>
        t.value === undefined ? t.type.label : typeof t.value === "number" ? String(t.value) : String(t.value)
      );
  } catch {
    return source.split(/\s+/);
  }
}

function fnv1a(text: string, seed: number): string {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}
