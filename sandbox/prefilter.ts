/**
 * The pre-filter: a static check of agent and candidate source before it is handed to a sandbox. It
 * parses the TypeScript (npm `@babel/parser`) and rejects what agent code never needs and escapes usually
 * start with: imports other than `@o/agent`, import attributes, dynamic `import()`, `import.meta`, the
 * `Deno` namespace, `eval`, the `Function` constructor (by name or through `.constructor`), computed or
 * aliased access to the global object, WebAssembly, workers, shared memory, string timers, and
 * triple-slash/type pragmas that make Deno load files.
 *
 * It is a first filter, not the wall: it cheaply turns away obvious attempts with a precise message (rule
 * and line:column), and the jail (sandbox/jail.ts) holds against everything it misses. A rule here is
 * strict by design; legitimate agent code has no reason to touch any of these.
 *
 * @example
 * ```ts
 * import { prefilter } from "./prefilter.ts";
 * import { strictEqual } from "node:assert";
 * strictEqual(prefilter(`export default () => 1;`).ok, true);
 * const r = prefilter(`const x = Deno.env.get("HOME");`);
 * strictEqual(r.ok, false);
 * if (!r.ok) strictEqual(r.violations[0].rule, "deno-namespace");
 * ```
 *
 * @module
 */
import { parse } from "@babel/parser";
import { PREFILTER_SOURCE_BYTES_MAX, PREFILTER_VIOLATIONS_MAX } from "./limits.ts";

/** One rejected construct. `line` and `column` are 1-based. */
export interface Violation {
  rule: PrefilterRule;
  line: number;
  column: number;
  /** `rule at line:column: why` */
  message: string;
}

/** The outcome of {@link prefilter}. */
export type PrefilterResult = { ok: true } | { ok: false; violations: Violation[] };

/** Every rule the pre-filter applies. */
export type PrefilterRule =
  | "parse"
  | "source-too-large"
  | "import-not-allowed"
  | "import-attributes"
  | "dynamic-import"
  | "import-meta"
  | "deno-namespace"
  | "eval"
  | "function-constructor"
  | "global-object"
  | "forbidden-global"
  | "string-timer"
  | "function-this"
  | "type-pragma";

/** The only module agent code may import. */
export const ALLOWED_IMPORTS: readonly string[] = ["@o/agent"];

const GLOBAL_ALIASES = new Set(["globalThis", "self", "window", "global", "frames", "parent", "top"]);
/** Names banned as references and as property names (`x.Deno`, `x["eval"]`). */
const BANNED = new Map<string, PrefilterRule>([
  ["Deno", "deno-namespace"],
  ["eval", "eval"],
  ["Function", "function-constructor"],
  ["constructor", "function-constructor"],
  ["WebAssembly", "forbidden-global"],
  ["Worker", "forbidden-global"],
  ["SharedWorker", "forbidden-global"],
  ["SharedArrayBuffer", "forbidden-global"],
  ["Atomics", "forbidden-global"],
  ["process", "forbidden-global"],
  ["require", "forbidden-global"],
  ["importScripts", "forbidden-global"],
  ["fetch", "forbidden-global"],
  ["WebSocket", "forbidden-global"],
  ["WebSocketStream", "forbidden-global"],
  ["EventSource", "forbidden-global"],
  ["XMLHttpRequest", "forbidden-global"],
  ["caches", "forbidden-global"],
  ["localStorage", "forbidden-global"],
  ["sessionStorage", "forbidden-global"],
  ["indexedDB", "forbidden-global"],
  ["BroadcastChannel", "forbidden-global"],
  ["navigator", "forbidden-global"],
  ["__proto__", "global-object"],
  ["__defineGetter__", "global-object"],
  ["__defineSetter__", "global-object"],
  ["__lookupGetter__", "global-object"],
  ["__lookupSetter__", "global-object"],
]);
/** Property names banned on any object: each reaches the runtime or the Function constructor. */
const BANNED_PROPERTIES = new Set([
  "Deno",
  "eval",
  "Function",
  "constructor",
  "__proto__",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
]);
const TIMERS = new Set(["setTimeout", "setInterval"]);
const PRAGMA = /^\s*(?:\/\s*<reference\b|\s*@(?:deno-types|ts-types|jsx\w*)\b)/;
const FUNCTION_TYPES = new Set(["FunctionDeclaration", "FunctionExpression"]);

interface Node {
  type: string;
  loc?: { start: { line: number; column: number } };
  [key: string]: unknown;
}

interface Walk {
  violations: Violation[];
  /** Whether the walk is inside a non-arrow, non-method function (where `this` may be the global). */
  plainFunctionDepth: number;
}

const DESCRIPTIONS: Record<PrefilterRule, string> = {
  "parse": "the source does not parse",
  "source-too-large": "the source is larger than the pre-filter accepts",
  "import-not-allowed": "only `@o/agent` may be imported",
  "import-attributes": "import attributes (`with {type: …}`) are not allowed",
  "dynamic-import": "dynamic `import()` is not allowed",
  "import-meta": "`import.meta` is not allowed",
  "deno-namespace": "the `Deno` namespace is not available to agent code",
  "eval": "`eval` is not allowed",
  "function-constructor": "the `Function` constructor (also through `.constructor`) is not allowed",
  "global-object": "the global object may only be used as `globalThis.name`",
  "forbidden-global": "this global is not available to agent code",
  "string-timer": "timers take a function, not a string",
  "function-this": "`this` in a plain function may be the global object",
  "type-pragma": "triple-slash references and type pragmas are not allowed",
};

function add(w: Walk, rule: PrefilterRule, node: Node | undefined, detail?: string): void {
  if (w.violations.length >= PREFILTER_VIOLATIONS_MAX) return;
  const line = node?.loc?.start.line ?? 1;
  const column = (node?.loc?.start.column ?? 0) + 1;
  const why = detail ? `${DESCRIPTIONS[rule]}: ${detail}` : DESCRIPTIONS[rule];
  w.violations.push({ rule, line, column, message: `${rule} at ${line}:${column}: ${why}` });
}

/**
 * Checks agent or candidate source.
 *
 * @param source TypeScript module source.
 * @returns `{ok: true}`, or every violation found (at most {@link PREFILTER_VIOLATIONS_MAX}), in source order.
 */
export function prefilter(source: string): PrefilterResult {
  const w: Walk = { violations: [], plainFunctionDepth: 0 };
  if (source.length > PREFILTER_SOURCE_BYTES_MAX) {
    add(w, "source-too-large", undefined, `${source.length} > ${PREFILTER_SOURCE_BYTES_MAX} characters`);
    return { ok: false, violations: w.violations };
  }
  let file: Node;
  try {
    file = parse(source, {
      sourceType: "module",
      plugins: ["typescript", "importAttributes", "explicitResourceManagement"],
    }) as unknown as Node;
  } catch (e) {
    const loc = (e as { loc?: { line: number; column: number } }).loc;
    const node = loc ? { type: "Error", loc: { start: loc } } : undefined;
    add(w, "parse", node, e instanceof Error ? e.message.replace(/\s*\(\d+:\d+\)$/, "") : String(e));
    return { ok: false, violations: w.violations };
  }
  for (const c of (file.comments ?? []) as Node[]) {
    if (PRAGMA.test(String(c.value))) add(w, "type-pragma", c);
  }
  visit(w, file, null, "");
  w.violations.sort((a, b) => a.line - b.line || a.column - b.column);
  return w.violations.length === 0 ? { ok: true } : { ok: false, violations: w.violations };
}

function visit(w: Walk, node: Node, parent: Node | null, key: string): void {
  check(w, node, parent, key);
  const plain = FUNCTION_TYPES.has(node.type);
  if (plain) w.plainFunctionDepth++;
  for (const [k, v] of Object.entries(node)) {
    if (k === "loc" || k === "comments" || k === "leadingComments" || k === "trailingComments") continue;
    if (Array.isArray(v)) {
      for (const child of v) if (isNode(child)) visit(w, child, node, k);
    } else if (isNode(v)) visit(w, v, node, k);
  }
  if (plain) w.plainFunctionDepth--;
}

function isNode(v: unknown): v is Node {
  return typeof v === "object" && v !== null && typeof (v as Node).type === "string";
}

function check(w: Walk, node: Node, parent: Node | null, key: string): void {
  switch (node.type) {
    case "ImportDeclaration":
    case "ExportNamedDeclaration":
    case "ExportAllDeclaration":
      return checkModuleSource(w, node);
    case "TSImportEqualsDeclaration":
    case "TSImportType":
    case "TSExternalModuleReference":
      return add(w, "import-not-allowed", node, "TypeScript module references");
    case "Import":
    case "ImportExpression":
      return add(w, "dynamic-import", node);
    case "MetaProperty":
      if ((node.meta as Node & { name: string }).name === "import") add(w, "import-meta", node);
      return;
    case "Identifier":
      return checkIdentifier(w, node, parent, key);
    case "MemberExpression":
    case "OptionalMemberExpression":
      return checkMember(w, node);
    case "CallExpression":
    case "NewExpression":
      return checkTimer(w, node);
    case "ThisExpression":
      if (w.plainFunctionDepth > 0) add(w, "function-this", node);
      return;
  }
}

function checkModuleSource(w: Walk, node: Node): void {
  const source = node.source as (Node & { value: string }) | null | undefined;
  const attributes = (node.attributes ?? node.assertions) as unknown[] | undefined;
  if (attributes && attributes.length > 0) add(w, "import-attributes", node);
  if (source && !ALLOWED_IMPORTS.includes(source.value)) {
    add(w, "import-not-allowed", source, JSON.stringify(source.value));
  }
}

/** Whether an identifier in this position names a variable (rather than a property, label or key). */
function isReference(parent: Node | null, key: string): boolean {
  if (!parent) return true;
  switch (parent.type) {
    case "MemberExpression":
    case "OptionalMemberExpression":
      return key !== "property" || parent.computed === true;
    case "ObjectProperty":
      return key === "value" || parent.computed === true;
    case "ObjectMethod":
    case "ClassMethod":
    case "ClassProperty":
    case "ClassAccessorProperty":
    case "TSPropertySignature":
    case "TSMethodSignature":
    case "TSDeclareMethod":
    case "TSAbstractMethodDefinition":
      return key !== "key" || parent.computed === true;
    case "LabeledStatement":
    case "BreakStatement":
    case "ContinueStatement":
      return false;
    case "ImportSpecifier":
      return key !== "imported";
    case "ExportSpecifier":
      return key !== "exported";
    case "TSQualifiedName":
      return key !== "right";
    case "TSEnumMember":
      return key !== "id";
  }
  return true;
}

function checkIdentifier(w: Walk, node: Node, parent: Node | null, key: string): void {
  if (!isReference(parent, key)) return;
  const name = node.name as string;
  const rule = BANNED.get(name);
  if (rule) return add(w, rule, node, `\`${name}\``);
  if (!GLOBAL_ALIASES.has(name)) return;
  // `globalThis.name` reads one named global (banned names are caught as properties); anything else
  // (computed access, passing the object around) reaches every global.
  const member = parent && (parent.type === "MemberExpression" || parent.type === "OptionalMemberExpression");
  if (!member || key !== "object" || parent!.computed === true) add(w, "global-object", node, `\`${name}\``);
}

function propertyName(node: Node): string | null {
  const p = node.property as Node & { name?: string; value?: unknown };
  if (!node.computed && p.type === "Identifier") return p.name ?? null;
  if (p.type === "StringLiteral") return String(p.value);
  if (p.type === "TemplateLiteral" && (p.expressions as unknown[]).length === 0) {
    return String(((p.quasis as Node[])[0].value as { cooked: string }).cooked);
  }
  return null;
}

function checkMember(w: Walk, node: Node): void {
  const name = propertyName(node);
  const object = node.object as Node & { name?: string };
  // Other globals (`fetch`, `process`, …) are ordinary property names on ordinary objects; on the global
  // object (an alias, or `this` where it may be the global) they are the globals themselves.
  const onGlobal = object.type === "ThisExpression" ||
    (object.type === "Identifier" && GLOBAL_ALIASES.has(object.name ?? ""));
  const banned = name === null ? undefined : BANNED.get(name);
  if (banned && (BANNED_PROPERTIES.has(name!) || onGlobal)) {
    return add(w, banned, node.property as Node, `property \`${name}\``);
  }
  if (node.computed === true && name === null && object.type === "ThisExpression") {
    add(w, "global-object", node, "computed access on `this`");
  }
}

function checkTimer(w: Walk, node: Node): void {
  const callee = node.callee as Node & { name?: string };
  if (callee.type !== "Identifier" || !TIMERS.has(callee.name ?? "")) return;
  const first = (node.arguments as Node[])[0];
  if (!first) return;
  const code = first.type === "StringLiteral" || first.type === "TemplateLiteral" ||
    first.type === "BinaryExpression" || first.type === "TaggedTemplateExpression";
  if (code) add(w, "string-timer", first);
}
