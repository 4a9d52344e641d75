/**
 * Supervisor error codes and the one table that maps every error code to an HTTP status.
 *
 * @module
 */
import { OError } from "../protocol/mod.ts";

/** An expected failure of the supervisor, with a stable code from {@link HTTP_STATUS_BY_CODE}. */
export class SupervisorError extends OError {}

/** The HTTP status of each error code; codes not listed answer 500. */
export const HTTP_STATUS_BY_CODE: Readonly<Record<string, number>> = {
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  INVALID_INPUT: 400,
  AGENT_SOURCE_INVALID: 400,
  AGENT_LOAD_FAILED: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  AGENT_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  AGENT_EXISTS: 409,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  AGENT_ERROR: 422,
  OUTPUT_INVALID: 422,
  TOOL_NOT_GRANTED: 422,
  AGENT_OVERLOADED: 429,
  NOT_IMPLEMENTED: 501,
  AGENT_CRASHED: 503,
  AGENT_UNAVAILABLE: 503,
  AGENT_FAILED: 503,
  OVERLOADED: 503,
  SHUTTING_DOWN: 503,
  VAULT_IO: 503,
  AGENT_TIMEOUT: 504,
};

/** The status for an error code. */
export function httpStatusOf(code: string): number {
  return HTTP_STATUS_BY_CODE[code] ?? (code.startsWith("TOOL_") ? 422 : 500);
}
