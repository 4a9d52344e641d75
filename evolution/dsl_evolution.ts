/**
 * DSL self-modification: an agent grows its own combinators and tool definitions.
 *
 * **Introspection.** The DSL's own source (agent/dsl.ts) says which combinators and definers exist
 * (exported functions, with their JSDoc summary and parameters); the broker says which built-in tools
 * exist; each agent's source says how it uses them (imports from `@o/agent`, combinator calls,
 * `defineTool` tools, built-in tools it lists, which `ctx.*` parts it touches) and which of its helper
 * functions are pure (no `ctx`, no outer state, primitive parameters) and recursive.
 *
 * **Generation.** From that, code that extends the DSL inside the agent's own source:
 *
 * - the `memo` combinator (a pure function's answers cached by its arguments, bounded), applied to a
 *   pure recursive helper — `function ways(n)` becomes `const ways = memo((n) => …)`, so the recursion
 *   goes through the cache;
 * - a `defineTool` definition exposing that helper as a tool of the agent (`ctx.tools.ways(n)` in the
 *   live sandbox), added to its `tools`.
 *
 * **Validation and promotion.** Each proposal passes the pre-filter, the tamper checks and the type check,
 * then the tests (the live evals, their probes, the regression set) in lock-step jails beside the live
 * version and the arbiter; the survivor is submitted as a candidate (operator `dsl`): shadow on mirrored
 * traffic, the arbiter again, promotion — like any other code. The introspection and the proposal join
 * the lineage record.
 *
 * @module
 */
import { parse as babelParse } from "@babel/parser";
import { prefilter } from "../sandbox/mod.ts";
import { decide, type Decision } from "./arbiter.ts";
import { tamperCheck } from "./blue_team.ts";
import type { CoevolutionHost, SubmitOutcome } from "./coevolution.ts";
import { SandboxEvaluator } from "./evaluator.ts";
import type { Node } from "./genome.ts";
import { EVAL_REPEATS_FINAL } from "./limits.ts";
import { agentSpecNode, toCases } from "./regressions.ts";
import type { TypeDiagnostic } from "./typecheck.ts";

/** Entries a generated `memo` cache holds before it starts over. */
export const MEMO_ENTRIES_MAX = 10_000;
/** Proposals tried per run. */
export const DSL_PROPOSALS_MAX = 4;

/** One combinator or definer the DSL exports. */
export interface DslExport {
  name: string;
  doc: string;
  params: string[];
  /** `definer` (defineAgent, defineTool) or `combinator`. */
  role: "definer" | "combinator";
}

/** A helper function of an agent. */
export interface Helper {
  name: string;
  params: string[];
  /** All parameters annotated as number, string or boolean. */
  primitive: boolean;
  /** Uses nothing but its parameters, its locals, other helpers and standard built-ins. */
  pure: boolean;
  recursive: boolean;
}

/** How one agent uses the DSL. */
export interface AgentUsage {
  name: string;
  imports: string[];
  combinators: Record<string, number>;
  builtin_tools: string[];
  defined_tools: string[];
  /** `ctx.memory`, `ctx.state`, … uses. */
  ctx: Record<string, number>;
  helpers: Helper[];
}

/** The DSL as it is and as it is used. */
export interface DslIntrospection {
  exports: DslExport[];
  builtin_tools: string[];
  agents: AgentUsage[];
  /** Combinators agents define themselves (generated ones included), by name: agents using them. */
  agent_combinators: Record<string, string[]>;
}

/** Built-ins a pure helper may use. */
const PURE_GLOBALS = new Set([
  "Math",
  "Number",
  "String",
  "Boolean",
  "Array",
  "Object",
  "JSON",
  "Map",
  "Set",
  "BigInt",
  "Infinity",
  "NaN",
  "undefined",
  "isFinite",
  "isNaN",
  "parseInt",
  "parseFloat",
  "RangeError",
  "TypeError",
  "Error",
]);
const PRIMITIVE_TYPES = new Set(["TSNumberKeyword", "TSStringKeyword", "TSBooleanKeyword"]);

function parse(source: string): Node | null {
  try {
    return babelParse(source, { sourceType: "module", plugins: ["typescript"] }) as unknown as Node;
  } catch {
    return null;
  }
}

function children(n: Node): Node[] {
  const out: Node[] = [];
  for (const [k, v] of Object.entries(n)) {
    if (
      k === "loc" || k === "extra" || k.endsWith("Comments") || k === "typeAnnotation" || k === "returnType"
    ) continue;
    if (Array.isArray(v)) { for (const c of v) c && typeof c.type === "string" && out.push(c); }
    else if (v && typeof v === "object" && typeof (v as Node).type === "string") out.push(v as Node);
  }
  return out;
}

function walk(root: Node, visit: (n: Node, parent: Node | null) => void): void {
  const stack: [Node, Node | null][] = [[root, null]];
  for (let steps = 0; stack.length > 0 && steps < 200_000; steps++) {
    const [n, parent] = stack.pop()!;
    visit(n, parent);
    for (const c of children(n)) stack.push([c, n]);
  }
}

/** The first sentence of a JSDoc block. */
function docOf(n: Node): string {
  const c = (n.leadingComments as Node[] | undefined)?.findLast((x) => x.type === "CommentBlock");
  if (!c) return "";
  const text = String(c.value).split("\n").map((l) => l.replace(/^\s*\*\s?/, "")).join(" ").trim();
  return (text.split(/(?<=\.)\s|@/)[0] ?? "").trim();
}

/** The DSL's exported functions (agent/dsl.ts). */
export function dslExports(dslSource: string): DslExport[] {
  const file = parse(dslSource);
  if (file === null) return [];
  const out: DslExport[] = [];
  for (const stmt of file.program.body as Node[]) {
    if (stmt.type !== "ExportNamedDeclaration" || stmt.declaration?.type !== "FunctionDeclaration") continue;
    const fn = stmt.declaration;
    out.push({
      name: fn.id.name,
      doc: docOf(stmt),
      params: (fn.params as Node[]).map((p) =>
        p.type === "Identifier" ? p.name : p.type === "RestElement" ? `...${p.argument.name}` : "?"
      ),
      role: /^define/.test(fn.id.name) ? "definer" : "combinator",
    });
  }
  return out;
}

/** Names a function body refers to that it does not bind itself. */
function freeNames(fn: Node): Set<string> {
  const bound = new Set<string>((fn.params as Node[]).flatMap(patternNames));
  const used = new Set<string>();
  walk(fn.body, (n, parent) => {
    if (n.type === "VariableDeclarator") { for (const name of patternNames(n.id)) bound.add(name); }
    if (n.type === "FunctionDeclaration" && n.id) bound.add(n.id.name);
    if ((n.type === "ArrowFunctionExpression" || n.type === "FunctionExpression") && n.params) {
      for (const p of n.params as Node[]) for (const name of patternNames(p)) bound.add(name);
    }
    if (n.type !== "Identifier") return;
    const isKey = parent !== null && (
      (parent.type === "MemberExpression" && parent.property === n && !parent.computed) ||
      (parent.type === "ObjectProperty" && parent.key === n && !parent.computed)
    );
    if (!isKey) used.add(n.name);
  });
  return new Set([...used].filter((x) => !bound.has(x)));
}

function patternNames(p: Node | null | undefined): string[] {
  if (!p) return [];
  if (p.type === "Identifier") return [p.name];
  if (p.type === "AssignmentPattern") return patternNames(p.left);
  if (p.type === "RestElement") return patternNames(p.argument);
  if (p.type === "ArrayPattern") return (p.elements as Node[]).flatMap(patternNames);
  if (p.type === "ObjectPattern") {
    return (p.properties as Node[]).flatMap((x) => patternNames(x.value ?? x.argument));
  }
  return [];
}

function helpersOf(program: Node): Helper[] {
  const fns = (program.body as Node[]).filter((s) => s.type === "FunctionDeclaration" && s.id);
  const names = new Set(fns.map((f) => f.id.name as string));
  return fns.map((fn) => {
    const free = freeNames(fn);
    const impure = [...free].some((x) => x !== fn.id.name && !names.has(x) && !PURE_GLOBALS.has(x));
    let hasThis = false;
    walk(fn.body, (n) => {
      if (
        n.type === "ThisExpression" ||
        n.type === "AssignmentExpression" && n.left.type === "Identifier" && free.has(n.left.name)
      ) {
        hasThis = true;
      }
    });
    const params = fn.params as Node[];
    return {
      name: fn.id.name,
      params: params.map((p) => p.type === "Identifier" ? p.name : "?"),
      primitive: params.length > 0 &&
        params.every((p) =>
          p.type === "Identifier" && PRIMITIVE_TYPES.has(p.typeAnnotation?.typeAnnotation?.type)
        ),
      pure: !impure && !hasThis && !fn.async && !fn.generator,
      recursive: free.has(fn.id.name),
    };
  });
}

/** How one agent source uses the DSL. */
export function agentUsage(name: string, source: string, builtinTools: readonly string[]): AgentUsage {
  const file = parse(source);
  const usage: AgentUsage = {
    name,
    imports: [],
    combinators: {},
    builtin_tools: [],
    defined_tools: [],
    ctx: {},
    helpers: [],
  };
  if (file === null) return usage;
  for (const stmt of file.program.body as Node[]) {
    if (stmt.type === "ImportDeclaration" && stmt.source.value === "@o/agent") {
      for (const s of stmt.specifiers as Node[]) usage.imports.push(s.imported?.name ?? s.local.name);
    }
  }
  const imported = new Set(usage.imports);
  walk(file.program, (n) => {
    if (n.type === "CallExpression" && n.callee.type === "Identifier") {
      const callee = n.callee.name as string;
      if (imported.has(callee) && !/^define/.test(callee)) {
        usage.combinators[callee] = (usage.combinators[callee] ?? 0) + 1;
      }
      if (callee === "defineTool") {
        const nameProp = (n.arguments[0]?.properties as Node[] | undefined)?.find((p) =>
          p.key?.name === "name"
        );
        if (nameProp?.value?.type === "StringLiteral") usage.defined_tools.push(nameProp.value.value);
      }
    }
    if (
      n.type === "MemberExpression" && n.object.type === "Identifier" && n.object.name === "ctx" &&
      !n.computed
    ) {
      const part = n.property.name as string;
      usage.ctx[part] = (usage.ctx[part] ?? 0) + 1;
    }
  });
  const spec = agentSpecNode(file.program);
  const tools = (spec?.properties as Node[] | undefined)?.find((p) => p.key?.name === "tools");
  if (tools?.value?.type === "ArrayExpression") {
    for (const e of tools.value.elements as Node[]) {
      if (e?.type === "StringLiteral" && builtinTools.includes(e.value)) usage.builtin_tools.push(e.value);
    }
  }
  usage.helpers = helpersOf(file.program);
  return usage;
}

/**
 * Introspects the DSL and its use (see the module doc).
 *
 * @param dslSource agent/dsl.ts.
 * @param builtinTools The broker's tools.
 * @param agents Live agents' names and sources.
 */
export function introspectDsl(
  dslSource: string,
  builtinTools: readonly string[],
  agents: readonly { name: string; source: string }[],
): DslIntrospection {
  const usages = agents.map((a) => agentUsage(a.name, a.source, builtinTools));
  const agentCombinators: Record<string, string[]> = {};
  for (const u of usages) {
    for (const h of u.helpers) {
      if (GENERATED_COMBINATORS.has(h.name)) (agentCombinators[h.name] ??= []).push(u.name);
    }
  }
  return {
    exports: dslExports(dslSource),
    builtin_tools: [...builtinTools],
    agents: usages,
    agent_combinators: agentCombinators,
  };
}

/** Names of the combinators this module generates. */
const GENERATED_COMBINATORS = new Set(["memo"]);

const MEMO_SOURCE = `
/**
 * A combinator made by O's DSL evolution: caches the answers of a pure function by its arguments
 * (at most ${MEMO_ENTRIES_MAX}; then the cache starts over).
 */
function memo<A extends (number | string | boolean)[], R>(f: (...args: A) => R): (...args: A) => R {
  const cache = new Map<string, R>();
  return (...args: A): R => {
    const key = JSON.stringify(args);
    if (cache.has(key)) return cache.get(key) as R;
    const value = f(...args);
    if (cache.size >= ${MEMO_ENTRIES_MAX}) cache.clear();
    cache.set(key, value);
    return value;
  };
}
`;

/** A generated variant. */
export interface DslProposal {
  combinator: string;
  target: string;
  tool: string | null;
  source: string;
}

function toolName(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase().replace(/[^a-z0-9_-]/g, "_").slice(0, 64);
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

function applyEdits(source: string, edits: Edit[]): string {
  let out = source;
  for (const e of [...edits].sort((a, b) => b.start - a.start)) {
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
  }
  return out;
}

/**
 * The `memo` + `defineTool` proposal for one pure recursive helper (see the module doc).
 *
 * @returns The new source, or `null` when the helper cannot take it.
 */
export function memoProposal(source: string, helper: string): DslProposal | null {
  const file = parse(source);
  if (file === null || /\bfunction memo\b|\bconst memo\b/.test(source)) return null;
  const program = file.program as Node;
  const fn = (program.body as Node[]).find((s) => s.type === "FunctionDeclaration" && s.id?.name === helper);
  const spec = agentSpecNode(program);
  if (fn === undefined || spec === null || !fn.returnType) return null;
  const params = fn.params as Node[];
  const paramsText = source.slice(params[0].start, params[params.length - 1].end);
  const returnText = source.slice(fn.returnType.typeAnnotation.start, fn.returnType.typeAnnotation.end);
  const body = source.slice(fn.body.start, fn.body.end);
  const edits: Edit[] = [{
    start: fn.start,
    end: fn.end,
    text:
      `const ${helper}: (${paramsText}) => ${returnText} = memo((${paramsText}): ${returnText} => ${body});`,
  }];
  const imports = (program.body as Node[]).filter((s) => s.type === "ImportDeclaration");
  const lastImport = imports[imports.length - 1];
  edits.push({ start: lastImport?.end ?? 0, end: lastImport?.end ?? 0, text: `\n${MEMO_SOURCE}` });
  const sdk = imports.find((s) => s.source.value === "@o/agent");
  const names = (sdk?.specifiers as Node[] | undefined)?.map((s) => s.imported?.name) ?? [];
  if (sdk === undefined) return null;
  if (!names.includes("defineTool")) {
    const last = (sdk.specifiers as Node[])[sdk.specifiers.length - 1];
    edits.push({ start: last.end, end: last.end, text: ", defineTool" });
  }
  const tool = toolName(helper);
  const argList = params.map((p, i) =>
    `args[${i}] as ${
      source.slice(p.typeAnnotation.typeAnnotation.start, p.typeAnnotation.typeAnnotation.end)
    }`
  ).join(", ");
  const def = `defineTool({ name: "${tool}", doc: "${helper}, memoised (made by DSL evolution)", ` +
    `run: (...args: unknown[]) => ${helper}(${argList}) })`;
  const tools = (spec.properties as Node[]).find((p) => p.key?.name === "tools");
  if (tools?.value?.type === "ArrayExpression") {
    const els = tools.value.elements as Node[];
    const at = els.length > 0 ? els[els.length - 1].end : tools.value.start + 1;
    edits.push({ start: at, end: at, text: els.length > 0 ? `, ${def}` : def });
  } else if (tools === undefined) {
    const version = (spec.properties as Node[]).find((p) => p.key?.name === "version");
    const at = version?.end ?? spec.start + 1;
    edits.push({ start: at, end: at, text: `${version ? "," : ""}\n  tools: [${def}]${version ? "" : ","}` });
  } else return null;
  return { combinator: "memo", target: helper, tool, source: applyEdits(source, edits) };
}

/** Every proposal for an agent: `memo` on each pure, recursive helper with primitive parameters. */
export function dslProposals(source: string, usage: AgentUsage): DslProposal[] {
  return usage.helpers.filter((h) => h.pure && h.recursive && h.primitive)
    .map((h) => memoProposal(source, h.name))
    .filter((p): p is DslProposal => p !== null)
    .slice(0, DSL_PROPOSALS_MAX);
}

/** Options of {@link runDslEvolution}. */
export interface DslEvolutionOptions {
  agent: string;
  host: CoevolutionHost;
  dslSource: string;
  builtinTools: readonly string[];
  typeCheck: ((source: string) => TypeDiagnostic[]) | null;
  /** @default EVAL_REPEATS_FINAL */
  repeats?: number;
}

/** What a DSL-evolution run did. */
export interface DslReport {
  usage: AgentUsage;
  proposals: {
    combinator: string;
    target: string;
    tool: string | null;
    stage0: string | null;
    decision: Decision | null;
  }[];
  candidate: SubmitOutcome | null;
  reason: string;
}

/** Runs DSL evolution once for an agent (see the module doc). */
export async function runDslEvolution(o: DslEvolutionOptions): Promise<DslReport> {
  const live = await o.host.live();
  const usage = agentUsage(o.agent, live.source, o.builtinTools);
  const proposals = dslProposals(live.source, usage);
  const report: DslReport = { usage, proposals: [], candidate: null, reason: "" };
  if (proposals.length === 0) return { ...report, reason: "no pure recursive helper to extend the DSL for" };
  const records = await o.host.regressions.list(o.agent);
  const evaluator = new SandboxEvaluator({ regression: toCases(records) });
  try {
    for (const p of proposals) {
      const entry: DslReport["proposals"][number] = {
        combinator: p.combinator,
        target: p.target,
        tool: p.tool,
        stage0: null,
        decision: null,
      };
      report.proposals.push(entry);
      entry.stage0 = stage0(o, p.source, live.source, records.map((r) => r.case.input));
      if (entry.stage0 !== null) continue;
      const [l, c, again] = await evaluator.evaluate([live.source, p.source, live.source], live.source, {
        alone: true,
        interleave: true,
        count: false,
        repeats: o.repeats ?? EVAL_REPEATS_FINAL,
      });
      entry.decision = decide({ live: l, candidate: c, liveAgain: again });
      if (!entry.decision.promote) continue;
      const introspection = {
        helpers: usage.helpers,
        combinators: usage.combinators,
        defined_tools: usage.defined_tools,
      };
      report.candidate = await o.host.submit(p.source, "dsl", {
        dsl: {
          combinator: p.combinator,
          target: p.target,
          tool: p.tool,
          introspection,
          engine_decision: entry.decision,
        },
      });
      report.reason = report.candidate.reason;
      return report;
    }
  } finally {
    await evaluator.close();
  }
  return { ...report, reason: "no proposal passed the tests and the arbiter" };
}

function stage0(o: DslEvolutionOptions, source: string, live: string, failing: unknown[]): string | null {
  const filtered = prefilter(source);
  if (!filtered.ok) return `pre-filter: ${filtered.violations.map((v) => v.message).join("; ")}`;
  const tamper = tamperCheck(source, live, failing);
  if (tamper.length > 0) return `tamper: ${tamper.join("; ")}`;
  const types = o.typeCheck?.(source) ?? [];
  return types.length > 0
    ? `type check: ${types.map((d) => `${d.line}:${d.column} ${d.message}`).join("; ")}`
    : null;
}
