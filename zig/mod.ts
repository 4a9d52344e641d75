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
