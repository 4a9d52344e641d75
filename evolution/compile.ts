/**
 * Compiles an agent's source for an evaluation jail, from one Babel parse and text splicing only (no
 * reprint, so every line keeps its number):
 *
 * - **Work counting** (optional): a tick at the start of every loop body and function body in the
 *   agent's own code counts work units, deterministically (same code, same input, same count), so the
 *   engine can rank candidates by cost without the noise of wall-clock timing. Built-ins count only
 *   through the callbacks they make (a comparator sort counts its comparisons; a typed-array sort counts
 *   nothing): the arbiter's wall-clock test guards promotion. The count is also a budget: once it passes
 *   the budget set for a case, the next tick throws, so a runaway loop fails its case after the same
 *   number of steps on every run instead of stalling the jail until its watchdog fires.
 * - **Function form** (when the source allows it): types are blanked out (replaced by spaces, in the
 *   manner of type-stripping loaders), the `@o/agent` import becomes a destructuring of an SDK parameter
 *   and `export default` becomes a binding the body returns. The jail then instantiates the agent with
 *   the `AsyncFunction` constructor, ~0.2 ms, instead of a `data:` URL import, ~2–6 ms. Every call
 *   makes a fresh instance (its own top-level bindings). Sources using TypeScript features that need a
 *   real transform (enums, namespaces, class modifiers, parameter properties, …) or unusual module syntax
 *   stay in module form and are imported from a `data:` URL as before.
 *
 * @module
 */
import { parse as babelParse } from "@babel/parser";
import { isNode, type Node } from "./genome.ts";

/** The counter variable; candidates may not use any name matching {@link RESERVED_NAME}. */
export const WORK_COUNTER = "__oW";
/** The compiled agent's export `(budget) → count`: returns and resets the count, sets the next budget. */
export const WORK_EXPORT = "__oWork";
/** The parameter that carries the SDK in function form. */
export const SDK_PARAM = "__oSdk";
/** Names the compiler adds: a source that uses one is refused. */
export const RESERVED_NAME = /__o[A-Z]/;
const BUDGET = "__oG";
const STOP = "__oStop";
const DEFAULT = "__oDefault";
const SDK_SPECIFIER = "@o/agent";

/** A compiled agent. */
export interface CompiledAgent {
  /** `function`: the body of `async function (__oSdk)` returning the exports; `module`: TypeScript module source. */
  form: "function" | "module";
  code: string;
  /** Whether the code counts work and exports {@link WORK_EXPORT}. */
  counted: boolean;
}

interface Edit {
  start: number;
  end: number;
  text: string;
  /** Orders edits at one position: closers (lower) before openers. */
  rank: number;
}

const LOOPS = new Set([
  "ForStatement",
  "ForInStatement",
  "ForOfStatement",
  "WhileStatement",
  "DoWhileStatement",
]);
const FUNCTIONS = new Set([
  "FunctionDeclaration",
  "FunctionExpression",
  "ArrowFunctionExpression",
  "ObjectMethod",
  "ClassMethod",
  "ClassPrivateMethod",
]);
/** Type-only nodes blanked whole. */
const BLANKED = new Set([
  "TSTypeAnnotation",
  "TSTypeParameterDeclaration",
  "TSTypeParameterInstantiation",
  "TSInterfaceDeclaration",
  "TSTypeAliasDeclaration",
  "TSDeclareFunction",
]);
/** Expression wrappers whose type part is blanked around the kept `expression`. */
const WRAPPERS = new Set([
  "TSAsExpression",
  "TSSatisfiesExpression",
  "TSNonNullExpression",
  "TSTypeAssertion",
]);
const CLASS_MEMBERS = /^(Class(Private)?(Property|Method)|ClassAccessorProperty)$/;
const CLASS_MODIFIERS = [
  "accessibility",
  "readonly",
  "abstract",
  "declare",
  "override",
  "definite",
  "optional",
];
const SKIP = new Set([
  "loc",
  "start",
  "end",
  "extra",
  "leadingComments",
  "trailingComments",
  "innerComments",
]);

/** Spaces for the range, newlines kept. */
function blank(source: string, start: number, end: number): string {
  return source.slice(start, end).replace(/[^\n]/g, " ");
}

/** Collects every edit; returns `false` when the source needs a real transform (module form then). */
class EditCollector {
  readonly edits: Edit[] = [];
  functionForm = true;
  hasDefault = false;

  constructor(readonly source: string, readonly count: boolean) {}

  tick(node: Node): void {
    const body = node.body as Node | undefined;
    if (!this.count || !body || !(LOOPS.has(node.type) || FUNCTIONS.has(node.type))) return;
    const tick = `if (++${WORK_COUNTER} > ${BUDGET}) ${STOP}();`;
    if (body.type === "BlockStatement") {
      this.edits.push({ start: body.start + 1, end: body.start + 1, text: tick, rank: 1 });
    } else if (FUNCTIONS.has(node.type)) {
      this.edits.push({
        start: body.start,
        end: body.start,
        text: `(++${WORK_COUNTER} > ${BUDGET} && ${STOP}(), `,
        rank: 1,
      });
      this.edits.push({ start: body.end, end: body.end, text: ")", rank: 0 });
    } else {
      this.edits.push({ start: body.start, end: body.start, text: `{ ${tick} `, rank: 1 });
      this.edits.push({ start: body.end, end: body.end, text: " }", rank: 0 });
    }
  }

  replace(start: number, end: number, text: string): void {
    this.edits.push({ start, end, text, rank: 2 });
  }

  /** Type-only syntax and module syntax; returns whether to descend into `node`'s children. */
  strip(node: Node, parent: Node | null): boolean {
    const s = this.source;
    if (BLANKED.has(node.type)) {
      this.replace(node.start, node.end, blank(s, node.start, node.end));
      return false;
    }
    if (WRAPPERS.has(node.type)) {
      const e = node.expression as Node;
      if (node.type === "TSTypeAssertion") {
        const at = e.extra?.parenthesized ? e.extra.parenStart : e.start;
        this.replace(node.start, at, blank(s, node.start, at));
      } else if (node.type === "TSNonNullExpression") this.replace(node.end - 1, node.end, " ");
      else {
        // The keyword may follow a closing parenthesis of the expression: blank from the keyword on.
        const keyword = node.type === "TSAsExpression" ? /\bas\b/g : /\bsatisfies\b/g;
        keyword.lastIndex = e.end;
        const at = keyword.exec(s)?.index ?? e.end;
        this.replace(at, node.end, blank(s, at, node.end));
      }
      return true;
    }
    if (node.type.startsWith("TS") || node.type === "Decorator" || node.type === "MetaProperty") {
      this.functionForm = false;
      return true;
    }
    if (node.type === "Identifier" && (node.optional || node.definite)) {
      if (parent?.type === "VariableDeclarator" || node.definite) this.functionForm = false;
      const mark = s.indexOf("?", node.start + node.name.length);
      if (mark >= 0 && (!node.typeAnnotation || mark < node.typeAnnotation.start)) {
        this.replace(mark, mark + 1, " ");
      }
      return true;
    }
    if (
      (node.type === "ClassDeclaration" || node.type === "ClassExpression") &&
      (node.abstract || node.implements?.length)
    ) {
      this.functionForm = false;
    }
    if (CLASS_MEMBERS.test(node.type) && CLASS_MODIFIERS.some((m) => node[m])) this.functionForm = false;
    if (
      node.type === "ImportExpression" || (node.type === "CallExpression" && node.callee?.type === "Import")
    ) {
      this.functionForm = false;
    }
    return true;
  }

  /** Top-level statements: imports and exports become plain bindings. */
  statement(stmt: Node): boolean {
    const s = this.source;
    const keepLines = (a: number, b: number) => "\n".repeat(s.slice(a, b).split("\n").length - 1);
    if (stmt.type === "ImportDeclaration") {
      if (stmt.importKind === "type") {
        return this.replace(stmt.start, stmt.end, blank(s, stmt.start, stmt.end)), false;
      }
      if (stmt.source.value !== SDK_SPECIFIER || stmt.attributes?.length) {
        return this.functionForm = false, true;
      }
      const parts: string[] = [];
      let namespace: string | null = null;
      for (const spec of stmt.specifiers as Node[]) {
        if (spec.type === "ImportNamespaceSpecifier") namespace = spec.local.name;
        else if (spec.type === "ImportSpecifier" && spec.importKind !== "type") {
          const imported = spec.imported.name ?? spec.imported.value;
          parts.push(imported === spec.local.name ? imported : `${imported}: ${spec.local.name}`);
        } else if (spec.type !== "ImportSpecifier") return this.functionForm = false, true;
      }
      const text = [
        namespace ? `const ${namespace} = ${SDK_PARAM};` : "",
        parts.length ? `const { ${parts.join(", ")} } = ${SDK_PARAM};` : "",
      ]
        .join(" ");
      this.replace(stmt.start, stmt.end, text + keepLines(stmt.start, stmt.end));
      return false;
    }
    if (stmt.type === "ExportDefaultDeclaration") {
      const d = stmt.declaration as Node;
      if (d.type === "FunctionDeclaration" || d.type === "ClassDeclaration" || d.type.startsWith("TS")) {
        this.functionForm = false;
        return true;
      }
      this.hasDefault = true;
      this.replace(stmt.start, d.start, `const ${DEFAULT} = ` + keepLines(stmt.start, d.start));
      return true;
    }
    if (stmt.type === "ExportNamedDeclaration") {
      if (stmt.exportKind === "type" || (!stmt.declaration && !stmt.source)) {
        this.replace(stmt.start, stmt.end, blank(s, stmt.start, stmt.end));
        return false;
      }
      if (stmt.source) return this.functionForm = false, true;
      this.replace(stmt.start, stmt.declaration.start, blank(s, stmt.start, stmt.declaration.start));
      return true;
    }
    if (stmt.type === "ExportAllDeclaration") this.functionForm = false;
    return true;
  }
}

function walkCollect(root: Node, c: EditCollector): void {
  const stack: { node: Node; parent: Node | null }[] = [{ node: root, parent: null }];
  while (stack.length > 0) {
    const { node, parent } = stack.pop()!;
    c.tick(node);
    const descend = parent?.type === "Program"
      ? c.statement(node) && c.strip(node, parent)
      : c.strip(node, parent);
    if (!descend) continue;
    if (WRAPPERS.has(node.type)) {
      // Only the kept expression: the type part is blanked and holds no code.
      stack.push({ node: node.expression, parent: node });
      continue;
    }
    for (const key of Object.keys(node)) {
      if (SKIP.has(key)) continue;
      const v = node[key];
      if (Array.isArray(v)) {
        for (const child of v) isNode(child) && stack.push({ node: child, parent: node });
      } else if (isNode(v)) stack.push({ node: v, parent: node });
    }
  }
}

function apply(source: string, edits: Edit[]): string {
  const sorted = edits.slice().sort((a, b) => b.start - a.start || b.rank - a.rank);
  let out = source;
  let limit = Infinity;
  for (const e of sorted) {
    // Edits never overlap (types hold no bodies); an overlap would be a bug in the collector.
    if (e.end > limit) throw new Error(`overlapping edits at ${e.start}`);
    out = out.slice(0, e.start) + e.text + out.slice(e.end);
    limit = e.start;
  }
  return out;
}

const COUNTER_HEAD = `var ${WORK_COUNTER} = 0, ${BUDGET} = Infinity; ` +
  `function ${STOP}() { throw new RangeError("work budget exceeded"); } `;
const METER =
  `function (budget) { const n = ${WORK_COUNTER}; ${WORK_COUNTER} = 0; ${BUDGET} = budget; return n; }`;

/**
 * Compiles an agent source for a jail (see the module doc).
 *
 * @param source The agent's TypeScript source.
 * @param options `count`: add work counting.
 * @returns The compiled agent, or `null` when the source does not parse.
 */
export function compileAgent(source: string, options: { count: boolean }): CompiledAgent | null {
  let file: Node;
  try {
    file = babelParse(source, { sourceType: "module", plugins: ["typescript"] }) as unknown as Node;
  } catch {
    return null;
  }
  const c = new EditCollector(source, options.count);
  walkCollect(file.program, c);
  if (c.functionForm && c.hasDefault) {
    const body = apply(source, c.edits);
    const meter = options.count ? `, ${WORK_EXPORT}: ${METER}` : "";
    const head = `"use strict"; ${options.count ? COUNTER_HEAD : ""}`;
    return {
      form: "function",
      code: `${head}${body}\n;return { default: ${DEFAULT}${meter} };\n`,
      counted: options.count,
    };
  }
  if (!options.count) return { form: "module", code: source, counted: false };
  const ticks = c.edits.filter((e) => e.rank !== 2);
  const tail =
    `\nexport function ${WORK_EXPORT}(budget: number): number {\n  const n = ${WORK_COUNTER};\n  ` +
    `${WORK_COUNTER} = 0;\n  ${BUDGET} = budget;\n  return n;\n}\n`;
  const head =
    `var ${WORK_COUNTER} = 0, ${BUDGET} = Infinity; function ${STOP}(): never { throw new RangeError("work budget exceeded"); } `;
  return { form: "module", code: head + apply(source, ticks) + tail, counted: true };
}
