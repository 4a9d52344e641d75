/**
 * Stage 0's type check: an in-process TypeScript 5 language service (npm `typescript@5.9.3`) that checks
 * a candidate's source against the `@o/agent` types (agent/mod.ts and what it imports). It is long-lived:
 * the lib files and the SDK are parsed once, and each candidate only replaces one in-memory file, so a
 * check costs milliseconds instead of a `deno check` process (~1 s).
 *
 * The compiler options follow Deno's defaults where they matter to agent code (`strict`, ES modules,
 * `.ts` import extensions); Deno's own `Deno.*` types are absent on purpose, since agent code may not use
 * that namespace (the pre-filter rejects it).
 *
 * @module
 */
import ts from "typescript";
import { assert } from "../protocol/mod.ts";

/** One type error, 1-based line and column in the candidate's source. */
export interface TypeDiagnostic {
  line: number;
  column: number;
  /** TypeScript's error number (`TS2322` is 2322). */
  code: number;
  message: string;
}

/** Options of a {@link TypeChecker}. */
export interface TypeCheckerOptions {
  /** Absolute path of the project root (where `agent/mod.ts` is). @default this file's parent folder */
  projectRoot?: string;
  /** Most diagnostics reported per candidate. @default 20 */
  diagnosticsMax?: number;
}

const PROJECT_ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * A long-lived type checker for agent sources.
 *
 * @example
 * ```ts
 * import { TypeChecker } from "./typecheck.ts";
 * import { strictEqual } from "node:assert";
 * const checker = new TypeChecker();
 * const ok = checker.check(`import { defineAgent } from "@o/agent";
 * export default defineAgent({ name: "a", version: "1", handle: (ctx) => ctx.input });`);
 * strictEqual(ok.length, 0);
 * strictEqual(checker.check(`const x: number = "no";`)[0].code, 2322);
 * ```
 */
export class TypeChecker {
  readonly #service: ts.LanguageService;
  readonly #file: string;
  readonly #diagnosticsMax: number;
  #source = "";
  #version = 0;
  readonly #snapshots = new Map<string, ts.IScriptSnapshot | undefined>();

  /** @param options Project root and reporting bound. */
  constructor(options: TypeCheckerOptions = {}) {
    const root = options.projectRoot ?? PROJECT_ROOT;
    this.#diagnosticsMax = options.diagnosticsMax ?? 20;
    this.#file = `${root}/evolution/__candidate__.ts`;
    const compilerOptions: ts.CompilerOptions = {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      lib: ["lib.esnext.d.ts", "lib.dom.d.ts"],
      strict: true,
      noEmit: true,
      allowImportingTsExtensions: true,
      skipLibCheck: true,
      isolatedModules: true,
      types: [],
      baseUrl: root,
      paths: { "@o/agent": [`${root}/agent/mod.ts`] },
    };
    const host: ts.LanguageServiceHost = {
      getCompilationSettings: () => compilerOptions,
      getScriptFileNames: () => [this.#file],
      getScriptVersion: (name) => name === this.#file ? String(this.#version) : "0",
      getScriptSnapshot: (name) => this.#snapshot(name),
      getCurrentDirectory: () => root,
      getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
      fileExists: (name) => name === this.#file || ts.sys.fileExists(name),
      readFile: (name) => name === this.#file ? this.#source : ts.sys.readFile(name),
      readDirectory: ts.sys.readDirectory,
      directoryExists: ts.sys.directoryExists,
      getDirectories: ts.sys.getDirectories,
    };
    this.#service = ts.createLanguageService(host, ts.createDocumentRegistry());
  }

  #snapshot(name: string): ts.IScriptSnapshot | undefined {
    if (name === this.#file) return ts.ScriptSnapshot.fromString(this.#source);
    if (!this.#snapshots.has(name)) {
      const text = ts.sys.readFile(name);
      this.#snapshots.set(name, text === undefined ? undefined : ts.ScriptSnapshot.fromString(text));
    }
    return this.#snapshots.get(name);
  }

  /**
   * Type-checks one candidate source (syntax and types; only errors in the candidate itself count).
   *
   * @param source The agent module's source.
   * @returns Its type errors, at most `diagnosticsMax`; empty when it checks.
   */
  check(source: string): TypeDiagnostic[] {
    this.#source = source;
    this.#version++;
    const syntactic = this.#service.getSyntacticDiagnostics(this.#file);
    const all = syntactic.length > 0 ? syntactic : this.#service.getSemanticDiagnostics(this.#file);
    const out: TypeDiagnostic[] = [];
    for (const d of all) {
      if (d.category !== ts.DiagnosticCategory.Error) continue;
      if (out.length >= this.#diagnosticsMax) break;
      const at = d.file && d.start !== undefined
        ? d.file.getLineAndCharacterOfPosition(d.start)
        : { line: 0, character: 0 };
      out.push({
        line: at.line + 1,
        column: at.character + 1,
        code: d.code,
        message: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
      });
    }
    assert(out.length <= this.#diagnosticsMax, "A check reports a bounded number of diagnostics");
    return out;
  }

  /** Releases the language service's memory. */
  dispose(): void {
    this.#service.dispose();
  }
}

/** @returns `line:column code message` for one diagnostic. */
export function formatDiagnostic(d: TypeDiagnostic): string {
  return `${d.line}:${d.column} TS${d.code} ${d.message}`;
}
