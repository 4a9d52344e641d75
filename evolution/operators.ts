/**
 * Genome operators: parameter tweak, logic branch modification, function replacement and subtree
 * crossover. Each is a pure function of its parent genome(s) and a seeded {@link Prng}: it re-parses the
 * parent's source (genomes are never changed), edits the fresh tree inside the mutable regions only, and
 * prints the child back to source. It returns `null` when it finds nothing to change or the change prints
 * to the parent's own source.
 *
 * Nodes copied within or between trees are stripped of their source positions first, so recast prints
 * them afresh instead of splicing text from another file.
 *
 * @module
 */
import * as recast from "recast";
import { assert } from "../protocol/mod.ts";
import {
  type Genome,
  isFunction,
  isNode,
  type Node,
  nodeAt,
  type NodePath,
  parseGenome,
  parseModule,
  printModule,
  type Region,
  regionNodes,
  replaceAt,
  type Visit,
  walk,
} from "./genome.ts";
import { LITERAL_NUMBER_ABS_MAX, LITERAL_STRING_CHARS_MAX } from "./limits.ts";
import type { Prng } from "./prng.ts";
import { type Snippet, SNIPPETS } from "./snippets.ts";

/** The operators, as recorded in the lineage. */
export type OperatorName = "param_tweak" | "logic_branch" | "function_replace" | "crossover";

/** Every operator name. */
export const OPERATORS: readonly OperatorName[] = [
  "param_tweak",
  "logic_branch",
  "function_replace",
  "crossover",
];

/** A child made by an operator. */
export interface Offspring {
  source: string;
  operator: OperatorName;
  /** What changed, e.g. `logic_branch:flip:sortNumbers` or `function_replace:snippet:native_sort_numbers`. */
  detail: string;
}

const b = recast.types.builders;
const COMPARISON_FLIPS: Record<string, string[]> = {
  "<": ["<=", ">", ">="],
  "<=": ["<", ">=", ">"],
  ">": [">=", "<", "<="],
  ">=": [">", "<=", "<"],
  "===": ["!=="],
  "!==": ["==="],
  "==": ["!="],
  "!=": ["=="],
};
const POSITION_KEYS = new Set(["loc", "start", "end", "range", "original", "tokens", "comments", "extra"]);
const COMMENT_KEYS = new Set(["leadingComments", "trailingComments", "innerComments"]);

/** A deep copy of a subtree without source positions or comments, so recast prints it afresh. */
export function cloneBare<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => cloneBare(v)) as T;
  if (!isNode(value)) return value;
  const out: Node = { type: value.type };
  for (const [key, v] of Object.entries(value)) {
    if (key === "type" || POSITION_KEYS.has(key) || COMMENT_KEYS.has(key)) continue;
    out[key] = typeof v === "object" && v !== null ? cloneBare(v) : v;
  }
  return out as T;
}

function finish(parent: Genome, ast: Node, operator: OperatorName, detail: string): Offspring | null {
  const source = printModule(ast);
  return source === parent.source ? null : { source, operator, detail };
}

function fresh(genome: Genome): Genome {
  return parseGenome(genome.source);
}

/** Whether a literal may be tweaked: not a key, an import source, a directive or a type. */
function tweakable(v: Visit): boolean {
  if (v.node.type !== "NumericLiteral" && v.node.type !== "StringLiteral") return false;
  const p = v.parent;
  if (p === null) return true;
  if (
    v.key === "key" &&
    (p.type === "ObjectProperty" || p.type === "ObjectMethod" || p.type === "ClassProperty")
  ) {
    return false;
  }
  return !["ImportDeclaration", "ExportNamedDeclaration", "ExportAllDeclaration", "Directive"].includes(
    p.type,
  );
}

function tweakNumber(value: number, prng: Prng): number {
  let next: number;
  if (Number.isInteger(value)) {
    next = prng.pick([value + 1, value - 1, value * 2, Math.trunc(value / 2), 0, 1, -value]);
  } else {
    next = Number((value * (1 + 0.25 * prng.normal())).toPrecision(4));
  }
  return Math.max(-LITERAL_NUMBER_ABS_MAX, Math.min(LITERAL_NUMBER_ABS_MAX, next));
}

function tweakString(value: string, others: string[], prng: Prng): string {
  const choices = others.filter((s) => s !== value);
  if (choices.length > 0 && prng.chance(0.5)) return prng.pick(choices);
  if (value.length === 0) return "a";
  const i = prng.int(value.length);
  const edit = prng.int(3);
  const out = edit === 0
    ? value.slice(0, i) + value.slice(i + 1)
    : edit === 1
    ? value.slice(0, i + 1) + value[i] + value.slice(i + 1)
    : value.toUpperCase() === value
    ? value.toLowerCase()
    : value.toUpperCase();
  return out.slice(0, LITERAL_STRING_CHARS_MAX);
}

function numberNode(value: number): Node {
  return value < 0
    ? b.unaryExpression("-", b.numericLiteral(-value)) as Node
    : b.numericLiteral(value) as Node;
}

/**
 * Parameter tweak: changes one numeric literal (±1, ×2, ÷2, 0, 1, negation; floats by a seeded ±25 %
 * step, clamped to ±{@link LITERAL_NUMBER_ABS_MAX}) or one string literal (another literal of the module,
 * or a one-character edit), inside the mutable regions.
 *
 * @param parent The genome to change.
 * @param prng Seeded randomness.
 * @returns The child, or `null` when there is no literal to tweak.
 */
export function paramTweak(parent: Genome, prng: Prng): Offspring | null {
  const g = fresh(parent);
  const literals = regionNodes(g).filter(({ visit }) => tweakable(visit));
  if (literals.length === 0) return null;
  const { region, visit } = prng.pick(literals);
  let replacement: Node;
  if (visit.node.type === "NumericLiteral") {
    replacement = numberNode(tweakNumber(visit.node.value, prng));
  } else {
    const others = literals.filter((l) => l.visit.node.type === "StringLiteral").map((l) =>
      l.visit.node.value
    );
    replacement = b.stringLiteral(tweakString(visit.node.value, others, prng)) as Node;
  }
  replaceAt(g.ast, visit.path, replacement);
  return finish(parent, g.ast, "param_tweak", `param_tweak:${region.name}`);
}

type LogicEdit = (g: Genome, nodes: { region: Region; visit: Visit }[], prng: Prng) => string | null;

function flipComparison(_g: Genome, nodes: { region: Region; visit: Visit }[], prng: Prng): string | null {
  const found = nodes.filter(({ visit }) =>
    visit.node.type === "BinaryExpression" && COMPARISON_FLIPS[visit.node.operator]
  );
  if (found.length === 0) return null;
  const { region, visit } = prng.pick(found);
  visit.node.operator = prng.pick(COMPARISON_FLIPS[visit.node.operator]);
  return `flip:${region.name}`;
}

const TESTED = new Set([
  "IfStatement",
  "ConditionalExpression",
  "WhileStatement",
  "DoWhileStatement",
  "ForStatement",
]);

function negateCondition(_g: Genome, nodes: { region: Region; visit: Visit }[], prng: Prng): string | null {
  const found = nodes.filter(({ visit }) => TESTED.has(visit.node.type) && visit.node.test);
  if (found.length === 0) return null;
  const { region, visit } = prng.pick(found);
  const test = visit.node.test as Node;
  visit.node.test = test.type === "UnaryExpression" && test.operator === "!"
    ? test.argument
    : b.unaryExpression("!", test as never);
  return `negate:${region.name}`;
}

function asBlock(stmt: Node): Node {
  return stmt.type === "BlockStatement" ? stmt : b.blockStatement([stmt as never]) as Node;
}

function swapBranches(_g: Genome, nodes: { region: Region; visit: Visit }[], prng: Prng): string | null {
  const found = nodes.filter(({ visit }) =>
    (visit.node.type === "IfStatement" && visit.node.alternate) ||
    visit.node.type === "ConditionalExpression" ||
    (visit.node.type === "LogicalExpression" && visit.node.operator !== "??")
  );
  if (found.length === 0) return null;
  const { region, visit } = prng.pick(found);
  const n = visit.node;
  if (n.type === "IfStatement") {
    const consequent = n.consequent;
    n.consequent = asBlock(n.alternate);
    n.alternate = asBlock(consequent);
  } else if (n.type === "ConditionalExpression") {
    [n.consequent, n.alternate] = [n.alternate, n.consequent];
  } else {
    n.operator = n.operator === "&&" ? "||" : "&&";
  }
  return `swap:${region.name}`;
}

/** The statements of a function that belong to it (not to functions nested in it). */
function ownVisits(fn: Node, path: NodePath): Visit[] {
  return walk(fn, path, (v) => v.node !== fn && isFunction(v.node));
}

function earlyReturn(g: Genome, nodes: { region: Region; visit: Visit }[], prng: Prng): string | null {
  const fns = nodes.filter(({ visit }) =>
    isFunction(visit.node) && visit.node.body?.type === "BlockStatement"
  );
  if (fns.length === 0) return null;
  const { region, visit } = prng.pick(fns);
  const own = ownVisits(visit.node, visit.path);
  const returns = own.filter((v) => v.node.type === "ReturnStatement" && v.node.argument);
  if (returns.length === 0) return null;
  const ret = prng.pick(returns).node;
  // Insert a copy of the return into a block that starts before it: the function body or a nested block.
  const blocks = own.filter((v) => v.node.type === "BlockStatement" && v.node.start < ret.start);
  if (blocks.length === 0) return null;
  const block = prng.pick(blocks).node;
  const at = prng.int(block.body.length + 1);
  if (block.body[at] === ret) return null;
  block.body.splice(at, 0, cloneBare(ret));
  assert(nodeAt(g.ast, visit.path) === visit.node, "An early return must edit the fresh tree");
  return `early_return:${region.name}`;
}

function loopBound(_g: Genome, nodes: { region: Region; visit: Visit }[], prng: Prng): string | null {
  const loops = nodes.filter(({ visit }) =>
    (visit.node.type === "ForStatement" || visit.node.type === "WhileStatement") &&
    visit.node.test?.type === "BinaryExpression" && COMPARISON_FLIPS[visit.node.test.operator]
  );
  if (loops.length === 0) return null;
  const { region, visit } = prng.pick(loops);
  const test = visit.node.test as Node;
  const side = test.right.type === "NumericLiteral" && test.left.type !== "NumericLiteral" ? "left" : "right";
  const change = prng.pick(["-", "+", ">>"] as const);
  test[side] = change === ">>"
    ? b.binaryExpression(">>", test[side], b.numericLiteral(1))
    : b.binaryExpression(change, test[side], b.numericLiteral(1));
  return `loop_bound:${region.name}`;
}

const LOGIC_EDITS: readonly LogicEdit[] = [
  flipComparison,
  negateCondition,
  swapBranches,
  earlyReturn,
  loopBound,
];

/**
 * Logic branch modification: one of comparison flip (`<` → `<=`, `>`, …; `===` ↔ `!==`), condition
 * negation (`if`, `?:`, loops), branch swap (`if`/`else`, `?:`, `&&` ↔ `||`), early return (a copy of a
 * later `return` inserted earlier in the same function) or loop bound change (`i < n` → `i < n - 1`,
 * `n + 1`, `n >> 1`). Edits that find nothing to change are skipped in a seeded order.
 *
 * @param parent The genome to change.
 * @param prng Seeded randomness.
 * @returns The child, or `null` when no edit applies.
 */
export function logicBranch(parent: Genome, prng: Prng): Offspring | null {
  for (const edit of prng.shuffle(LOGIC_EDITS)) {
    const g = fresh(parent);
    const detail = edit(g, regionNodes(g), prng);
    if (detail === null) continue;
    const child = finish(parent, g.ast, "logic_branch", `logic_branch:${detail}`);
    if (child !== null) return child;
  }
  return null;
}

/** A function's signature as written: parameter type annotations and return type, whitespace removed. */
export function signatureOf(fn: Node): string | null {
  const types = [...(fn.params as Node[]).map((p) => p.typeAnnotation), fn.returnType];
  if (types.some((t) => t === undefined || t === null)) return null;
  return types.map((t) => recast.print(cloneBare(t)).code.replace(/\s+/g, "")).join("|");
}

function transplant(target: Node, donor: Node): void {
  target.params = cloneBare(donor.params);
  target.returnType = cloneBare(donor.returnType ?? null);
  target.async = donor.async;
  target.generator = donor.generator;
  let body = cloneBare(donor.body);
  if (target.type !== "ArrowFunctionExpression" && body.type !== "BlockStatement") {
    body = b.blockStatement([b.returnStatement(body)]) as Node;
  }
  target.body = body;
  if (target.type === "ArrowFunctionExpression") target.expression = body.type !== "BlockStatement";
}

function replacementsFor(
  target: Node,
  name: string,
  parent: Genome,
  donors: readonly Genome[],
  snippets: readonly Snippet[],
): { label: string; fn: Node }[] {
  const options: { label: string; fn: Node }[] = [];
  for (const donor of donors) {
    const same = donor.regions.find((r) => r.kind === "function" && r.name === name);
    if (same && donor.source !== parent.source) {
      options.push({ label: "donor", fn: nodeAt(donor.ast, same.path) });
    }
  }
  const signature = signatureOf(target);
  if (signature === null) return options;
  for (const s of snippets) {
    const fn = snippetFunction(s);
    if (signatureOf(fn) === signature) options.push({ label: `snippet:${s.name}`, fn });
  }
  return options;
}

const snippetCache = new Map<string, Node>();

function snippetFunction(snippet: Snippet): Node {
  let fn = snippetCache.get(snippet.source);
  if (fn === undefined) {
    fn = parseModule(snippet.source).program.body[0] as Node;
    assert(fn.type === "FunctionDeclaration", `A snippet must be one function declaration: ${snippet.name}`);
    snippetCache.set(snippet.source, fn);
  }
  return fn;
}

/**
 * Function replacement: replaces one function region's parameters, return type and body with those of
 * the same-named function of a donor individual, or with a snippet whose signature (as written) matches.
 *
 * @param parent The genome to change.
 * @param donors Other individuals whose same-named functions may be copied in.
 * @param prng Seeded randomness.
 * @param snippets The snippet library. @default SNIPPETS
 * @returns The child, or `null` when no donor or snippet fits.
 */
export function functionReplace(
  parent: Genome,
  donors: readonly Genome[],
  prng: Prng,
  snippets: readonly Snippet[] = SNIPPETS,
): Offspring | null {
  const g = fresh(parent);
  const choices: { region: Region; options: { label: string; fn: Node }[] }[] = [];
  for (const region of g.regions.filter((r) => r.kind === "function")) {
    const options = replacementsFor(nodeAt(g.ast, region.path), region.name, parent, donors, snippets);
    if (options.length > 0) choices.push({ region, options });
  }
  if (choices.length === 0) return null;
  const { region, options } = prng.pick(choices);
  const target = nodeAt(g.ast, region.path);
  const choice = prng.pick(options);
  transplant(target, choice.fn);
  return finish(parent, g.ast, "function_replace", `function_replace:${choice.label}:${region.name}`);
}

/** Tries to find a differing subtree of one kind before crossover gives up. */
const CROSSOVER_ATTEMPTS = 4;
const CROSSOVER_SKIP = new Set([
  "Identifier",
  "NumericLiteral",
  "StringLiteral",
  "BooleanLiteral",
  "NullLiteral",
]);

/**
 * Subtree crossover: replaces a subtree of `a` (inside a mutable region) with a subtree of the same node
 * kind from `b`, preferring `b`'s region of the same name.
 *
 * @param a The parent that receives.
 * @param bParent The parent that gives.
 * @param prng Seeded randomness.
 * @returns The child, or `null` when the parents share no differing subtree of one kind.
 */
export function crossover(a: Genome, bParent: Genome, prng: Prng): Offspring | null {
  if (a.source === bParent.source) return null;
  const theirs = regionNodes(bParent).filter(({ visit }) => !CROSSOVER_SKIP.has(visit.node.type));
  for (let attempt = 0; attempt < CROSSOVER_ATTEMPTS; attempt++) {
    const g = fresh(a);
    const mine = regionNodes(g).filter(({ visit }) =>
      !CROSSOVER_SKIP.has(visit.node.type) && visit.key !== null
    );
    if (mine.length === 0) return null;
    const { region, visit } = prng.pick(mine);
    const kind = theirs.filter((t) => t.visit.node.type === visit.node.type);
    const sameRegion = kind.filter((t) => t.region.name === region.name);
    const pool = sameRegion.length > 0 ? sameRegion : kind;
    if (pool.length === 0) continue;
    replaceAt(g.ast, visit.path, cloneBare(prng.pick(pool).visit.node));
    const child = finish(a, g.ast, "crossover", `crossover:${visit.node.type}:${region.name}`);
    if (child !== null) return child;
  }
  return null;
}

/** Relative weights of the operators when {@link mutate} picks one. */
export type OperatorWeights = Record<OperatorName, number>;

/** Default weights: structure-changing operators more often than literal tweaks. */
export const OPERATOR_WEIGHTS_DEFAULT: OperatorWeights = {
  param_tweak: 2,
  logic_branch: 3,
  function_replace: 2,
  crossover: 2,
};

/**
 * Applies one seeded-chosen operator. Crossover and donor replacement take `mates` (other individuals).
 *
 * @param parent The main parent.
 * @param mates Other individuals (for crossover and donors); may be empty.
 * @param prng Seeded randomness.
 * @param weights Operator weights. @default OPERATOR_WEIGHTS_DEFAULT
 * @returns The child, or `null` when the chosen operator found nothing to change.
 */
export function mutate(
  parent: Genome,
  mates: readonly Genome[],
  prng: Prng,
  weights: OperatorWeights = OPERATOR_WEIGHTS_DEFAULT,
): Offspring | null {
  const total = OPERATORS.reduce((s, op) => s + weights[op], 0);
  assert(total > 0, "Operator weights must not all be zero");
  let r = prng.next() * total;
  let op: OperatorName = OPERATORS[OPERATORS.length - 1];
  for (const name of OPERATORS) {
    r -= weights[name];
    if (r < 0) {
      op = name;
      break;
    }
  }
  switch (op) {
    case "param_tweak":
      return paramTweak(parent, prng);
    case "logic_branch":
      return logicBranch(parent, prng);
    case "function_replace":
      return functionReplace(parent, mates, prng);
    case "crossover":
      return mates.length === 0 ? logicBranch(parent, prng) : crossover(parent, prng.pick(mates), prng);
  }
}

const JUMPS = new Set(["ReturnStatement", "ThrowStatement", "BreakStatement", "ContinueStatement"]);

/**
 * Removes statements that can never run: those after a `return`, `throw`, `break` or `continue` in the
 * same block (function declarations and `var`s, which hoist, stay). Semantics-preserving, so the engine
 * applies it to every child: operators such as early return leave such dead code behind, and it would
 * otherwise ride along with a real improvement.
 *
 * @param source A module's source.
 * @returns The source without unreachable statements (unchanged when there are none or it does not parse).
 */
export function pruneUnreachable(source: string): string {
  let ast: Node;
  try {
    ast = parseModule(source);
  } catch {
    return source;
  }
  let changed = false;
  for (const v of walk(ast)) {
    const list: Node[] | undefined = v.node.type === "BlockStatement"
      ? v.node.body
      : v.node.type === "SwitchCase"
      ? v.node.consequent
      : undefined;
    if (!list) continue;
    const jump = list.findIndex((s) => JUMPS.has(s.type));
    if (jump < 0 || jump === list.length - 1) continue;
    const kept = list.slice(jump + 1).filter((s) =>
      s.type === "FunctionDeclaration" || (s.type === "VariableDeclaration" && s.kind === "var")
    );
    list.splice(jump + 1, list.length - jump - 1, ...kept);
    changed = true;
  }
  return changed ? printModule(ast) : source;
}
