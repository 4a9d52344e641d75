/**
 * The supervisor: agent hosts (live sandboxes, restarts, heartbeats), routing, the HTTP API and the
 * `start` command.
 *
 * @module
 */
export { AgentHost, type HostStatus, type InvokeAnswer, type InvokeOptions } from "./agent_host.ts";
export { HTTP_STATUS_BY_CODE, httpStatusOf, SupervisorError } from "./errors.ts";
export { createHandler, errorResponse, type HandlerOptions, readJson } from "./http.ts";
export * from "./limits.ts";
export { SupervisorMetrics } from "./metrics.ts";
export { RestartIntensity } from "./restart_intensity.ts";
export {
  parseStartOptions,
  type RunningServer,
  START_USAGE,
  startCommand,
  type StartOptions,
  startServer,
} from "./server.ts";
export { PROJECT_ROOT, Supervisor, type SupervisorOptions } from "./supervisor.ts";
export {
  Authenticator,
  createToken,
  listTokens,
  revokeToken,
  type Scope,
  SCOPES,
  type TokenRecord,
  type TokenStore,
} from "./auth.ts";
export { TOKEN_USAGE, tokenCommand } from "./token_command.ts";
export { KEY_USAGE, keyCommand } from "./key_command.ts";
