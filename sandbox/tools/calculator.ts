/**
 * The `calculator` tool: evaluates arithmetic with a recursive-descent parser (no `eval`).
 *
 * Grammar: `expr = term (('+'|'-') term)*`, `term = unary (('*'|'/'|'%') unary)*`,
 * `unary = ('-'|'+') unary | power`, `power = atom ('^' unary)?` (right-associative),
 * `atom = number | name | name '(' args ')' | '(' expr ')'`.
 *
 * @module
 */
import { ToolError } from "../../protocol/mod.ts";

/** Longest expression accepted, in characters. */
export const CALCULATOR_CHARS_MAX = 4096;
/** Deepest nesting of parentheses and unary operators. */
export const CALCULATOR_DEPTH_MAX = 64;

const CONSTANTS: Record<string, number> = { pi: Math.PI, e: Math.E, tau: 2 * Math.PI };
const FUNCTIONS: Record<string, (...x: number[]) => number> = {
  sqrt: Math.sqrt,
  abs: Math.abs,
  sin: Math.sin,
  cos: Math.cos,
  tan: Math.tan,
  asin: Math.asin,
  acos: Math.acos,
  atan: Math.atan,
  ln: Math.log,
  log: Math.log10,
  log2: Math.log2,
  exp: Math.exp,
  floor: Math.floor,
  ceil: Math.ceil,
  round: Math.round,
  min: Math.min,
  max: Math.max,
  pow: Math.pow,
};

type Token = { kind: "num"; value: number; at: number } | { kind: "name" | "op"; text: string; at: number };

function fail(message: string): never {
  throw new ToolError("CALCULATOR_SYNTAX", `Cannot evaluate expression: ${message}`);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/%^(),]))/y;
  let at = 0;
  while (at < text.length) {
    if (/^\s*$/.test(text.slice(at))) break;
    pattern.lastIndex = at;
    const m = pattern.exec(text);
    if (m === null) fail(`unexpected character '${text.slice(at).trim()[0]}' at ${at}`);
    if (m[1] !== undefined) tokens.push({ kind: "num", value: Number(m[1]), at });
    else if (m[2] !== undefined) tokens.push({ kind: "name", text: m[2], at });
    else tokens.push({ kind: "op", text: m[3], at });
    at = pattern.lastIndex;
  }
  return tokens;
}

class Parser {
  readonly #tokens: Token[];
  #pos = 0;
  #depth = 0;

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  parse(): number {
    const value = this.#expr();
    const extra = this.#tokens[this.#pos];
    if (extra !== undefined) {
      fail(`unexpected '${extra.kind === "num" ? extra.value : extra.text}' at ${extra.at}`);
    }
    return value;
  }

  #peekOp(...ops: string[]): string | undefined {
    const t = this.#tokens[this.#pos];
    return t?.kind === "op" && ops.includes(t.text) ? t.text : undefined;
  }

  #expect(op: string): void {
    if (this.#peekOp(op) === undefined) fail(`expected '${op}'`);
    this.#pos++;
  }

  #nest<T>(f: () => T): T {
    if (++this.#depth > CALCULATOR_DEPTH_MAX) fail(`nesting exceeds ${CALCULATOR_DEPTH_MAX}`);
    try {
      return f();
    } finally {
      this.#depth--;
    }
  }

  #expr(): number {
    let value = this.#term();
    for (let op = this.#peekOp("+", "-"); op !== undefined; op = this.#peekOp("+", "-")) {
      this.#pos++;
      const rhs = this.#term();
      value = op === "+" ? value + rhs : value - rhs;
    }
    return value;
  }

  #term(): number {
    let value = this.#unary();
    for (let op = this.#peekOp("*", "/", "%"); op !== undefined; op = this.#peekOp("*", "/", "%")) {
      this.#pos++;
      const rhs = this.#unary();
      if ((op === "/" || op === "%") && rhs === 0) {
        throw new ToolError("CALCULATOR_DIVISION_BY_ZERO", "Cannot evaluate expression: division by zero");
      }
      value = op === "*" ? value * rhs : op === "/" ? value / rhs : value % rhs;
    }
    return value;
  }

  #unary(): number {
    const op = this.#peekOp("-", "+");
    if (op === undefined) return this.#power();
    this.#pos++;
    return this.#nest(() => op === "-" ? -this.#unary() : this.#unary());
  }

  #power(): number {
    const base = this.#atom();
    if (this.#peekOp("^") === undefined) return base;
    this.#pos++;
    return this.#nest(() => base ** this.#unary());
  }

  #atom(): number {
    const t = this.#tokens[this.#pos++];
    if (t === undefined) fail("unexpected end");
    if (t.kind === "num") return t.value;
    if (t.kind === "op") {
      if (t.text !== "(") fail(`unexpected '${t.text}' at ${t.at}`);
      const value = this.#nest(() => this.#expr());
      this.#expect(")");
      return value;
    }
    if (this.#peekOp("(") === undefined) {
      if (!Object.hasOwn(CONSTANTS, t.text)) fail(`unknown name '${t.text}'`);
      return CONSTANTS[t.text];
    }
    const f = Object.hasOwn(FUNCTIONS, t.text) ? FUNCTIONS[t.text] : fail(`unknown function '${t.text}'`);
    this.#pos++;
    const args: number[] = [];
    if (this.#peekOp(")") === undefined) {
      args.push(this.#nest(() => this.#expr()));
      while (this.#peekOp(",") !== undefined) (this.#pos++, args.push(this.#nest(() => this.#expr())));
    }
    this.#expect(")");
    return f(...args);
  }
}

/**
 * Evaluates an arithmetic expression.
 *
 * @param expression E.g. `"2 * (3 + 4) ^ 2 - sqrt(16)"`.
 * @returns The value (finite).
 * @throws {ToolError} `CALCULATOR_SYNTAX`, `CALCULATOR_DIVISION_BY_ZERO` or `CALCULATOR_NOT_FINITE`.
 */
export function calculate(expression: unknown): number {
  if (typeof expression !== "string") {
    throw new ToolError("TOOL_BAD_ARGS", "Cannot evaluate expression: it must be a string");
  }
  if (expression.length > CALCULATOR_CHARS_MAX) {
    fail(`${expression.length} chars exceeds ${CALCULATOR_CHARS_MAX}`);
  }
  const value = new Parser(tokenize(expression)).parse();
  if (!Number.isFinite(value)) {
    throw new ToolError("CALCULATOR_NOT_FINITE", `Cannot evaluate expression: the result is ${value}`);
  }
  return value;
}
