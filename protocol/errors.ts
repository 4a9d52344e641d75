/**
 * Typed errors for expected failures. Each carries a stable `code`; the HTTP edge maps codes to statuses
 * in one table (supervisor/http_errors.ts).
 *
 * @module
 */

/** Base class of every expected failure in O. */
export class OError extends Error {
  /** A stable machine-readable code, e.g. `FRAME_TOO_LARGE`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Thrown when bytes on a sandbox channel are not a valid frame. */
export class FrameError extends OError {}

/** Thrown by a tool, the broker or the DSL when a tool call cannot be served. */
export class ToolError extends OError {}
