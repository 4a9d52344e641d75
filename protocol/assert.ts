/**
 * Invariant checks for O's own code. A failed assertion is a bug, not an expected failure: it throws
 * {@link AssertionError}, the component crashes and its supervisor restarts it ("let it crash").
 *
 * @module
 */

/** Thrown when an invariant of O's own code does not hold. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/**
 * Asserts that `condition` holds.
 *
 * @param condition The invariant.
 * @param message What was expected, in sentence case.
 * @throws {AssertionError} When `condition` is false.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/**
 * Marks a branch that the type system proves unreachable.
 *
 * @param value The value whose type is `never`.
 * @throws {AssertionError} Always, if reached at run time.
 */
export function unreachable(value: never): never {
  throw new AssertionError(`Unreachable code reached with value: ${String(value)}`);
}
