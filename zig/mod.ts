/**
 * Zig modules for O: the FFI loader with hot reload, the build (pinned toolchain, cached by source hash),
 * the generator for new modules from templates, and the benchmarks.
 *
 * @module
 */
export {
  CALL_STATUS,
  FLAG_BLOCKING,
  type ModuleVersion,
  type OModule,
  openModule,
  type OpenOptions,
  type ReloadRecord,
  ZigModuleError,
} from "./ffi.ts";
export {
  buildModules,
  type BuildOptions,
  type BuildResult,
  ensureToolchain,
  LIB_DIR,
  libraryPath,
  MODULES,
  type Optimize,
  runZigTests,
  type TestResult,
  ZIG_VERSION,
  ZigBuildError,
} from "./build.ts";
export {
  compareKernelWithTwin,
  compileModule,
  type CompileOptions,
  type CompileResult,
  type Diagnostic,
  encodeKernelRequest,
  fillTemplate,
  type GeneratedModule,
  generateNumericKernel,
  type KernelOp,
  type KernelRequest,
  type NumericKernelParams,
  numericKernelTwin,
  parseDiagnostics,
  renderNumericKernel,
  TemplateParamError,
  type TwinCase,
  type TwinEvidence,
  validateKernelParams,
} from "./generate.ts";
