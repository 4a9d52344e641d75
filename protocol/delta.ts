/**
 * State deltas: the change one invoke made to an agent's durable snapshot, as a list of path operations.
 * The sandbox computes them ({@link diff}); the supervisor logs them to the WAL and applies them to its
 * copy ({@link applyDelta}); replay applies them again after a crash.
 *
 * @module
 */
import { FrameError } from "./errors.ts";
import { DELTA_OPS_MAX } from "./limits.ts";

/** A step into a nested value: an object key or an array index. */
export type PathKey = string | number;
/** Set `path` to a value (creating it), delete `path`, or push values onto the array at `path`. */
export type DeltaOp =
  | ["s", PathKey[], unknown]
  | ["d", PathKey[]]
  | ["p", PathKey[], unknown[]];

type Container = Record<string, unknown> | unknown[];

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
}

/**
 * Computes the operations that turn `before` into `after`. Arrays that only grew become one push;
 * everything else is compared key by key down to leaves.
 *
 * @param before The snapshot before the change (not mutated).
 * @param after The snapshot after it.
 * @returns The operations, in application order; empty when nothing changed.
 */
export function diff(before: unknown, after: unknown): DeltaOp[] {
  const ops: DeltaOp[] = [];
  diffInto(ops, [], before, after);
  return ops;
}

function diffInto(ops: DeltaOp[], path: PathKey[], a: unknown, b: unknown): void {
  if (Object.is(a, b)) return;
  if (isPlainObject(a) && isPlainObject(b)) {
    for (const key of Object.keys(a)) {
      if (!Object.hasOwn(b, key) || b[key] === undefined) {
        if (a[key] !== undefined) ops.push(["d", [...path, key]]);
      }
    }
    for (const key of Object.keys(b)) {
      if (b[key] === undefined) continue;
      if (!Object.hasOwn(a, key) || a[key] === undefined) ops.push(["s", [...path, key], b[key]]);
      else diffInto(ops, [...path, key], a[key], b[key]);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (b.length >= a.length) {
      let changedAt = -1;
      for (let i = 0; i < a.length; i++) {
        if (!deepEqual(a[i], b[i])) {
          changedAt = i;
          break;
        }
      }
      if (changedAt === -1) {
        if (b.length > a.length) ops.push(["p", path, b.slice(a.length)]);
        return;
      }
      // Few changed elements: patch them in place; otherwise replace the array.
      if (b.length === a.length) {
        const changed: number[] = [];
        for (let i = changedAt; i < a.length && changed.length <= 8; i++) {
          if (!deepEqual(a[i], b[i])) changed.push(i);
        }
        if (changed.length <= 8) {
          for (const i of changed) diffInto(ops, [...path, i], a[i], b[i]);
          return;
        }
      }
    }
    ops.push(["s", path, b]);
    return;
  }
  if (a instanceof Uint8Array && b instanceof Uint8Array && bytesEqual(a, b)) return;
  ops.push(["s", path, b]);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Structural equality of JSON-like values (msgpack's value model).
 *
 * @returns Whether `a` and `b` hold the same data.
 */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return typeof a === "number" && typeof b === "number" && a === b;
  }
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return a instanceof Uint8Array && b instanceof Uint8Array && bytesEqual(a, b);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], bb[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!Object.hasOwn(bo, k) || !deepEqual(ao[k], bo[k])) return false;
  return true;
}

/**
 * Applies operations to `target` in place.
 *
 * @param target The snapshot to change (a plain object).
 * @param ops Operations from {@link diff} (or read back from the WAL).
 * @throws {FrameError} `DELTA_INVALID` when an operation is malformed or its path does not exist;
 *   operations before the bad one have been applied, so callers apply to a copy when they must roll back.
 */
export function applyDelta(target: object, ops: DeltaOp[]): void {
  for (const op of ops) applyOp(target, op);
}

function applyOp(target: object, op: DeltaOp): void {
  const [kind, path] = op;
  if (kind === "p") {
    const array = walk(target, path, path.length);
    if (!Array.isArray(array)) throw invalid(op, "push target is not an array");
    array.push(...(op[2] as unknown[]));
    return;
  }
  if (path.length === 0) throw invalid(op, "the root cannot be replaced");
  const parent = walk(target, path, path.length - 1);
  const key = path[path.length - 1];
  if (kind === "s") setKey(parent, key, op[2], op);
  else if (kind === "d") {
    if (Array.isArray(parent)) throw invalid(op, "cannot delete an array index");
    delete (parent as Record<string, unknown>)[String(key)];
  } else throw invalid(op, "unknown operation");
}

function walk(root: object, path: PathKey[], depth: number): Container {
  let node: unknown = root;
  for (let i = 0; i < depth; i++) {
    const key = path[i];
    if (!isPlainObject(node) && !Array.isArray(node)) {
      throw invalid(["s", path, null], `no container at ${i}`);
    }
    node = (node as Record<string, unknown>)[String(key)];
  }
  if (!isPlainObject(node) && !Array.isArray(node)) throw invalid(["s", path, null], "path leads to a leaf");
  return node;
}

function setKey(parent: Container, key: PathKey, value: unknown, op: DeltaOp): void {
  if (Array.isArray(parent)) {
    if (typeof key !== "number" || !Number.isInteger(key) || key < 0 || key > parent.length) {
      throw invalid(op, "array index out of range");
    }
    parent[key] = value;
    return;
  }
  if (key === "__proto__") {
    Object.defineProperty(parent, key, { value, enumerable: true, writable: true, configurable: true });
    return;
  }
  parent[String(key)] = value;
}

function invalid(op: DeltaOp, why: string): FrameError {
  return new FrameError("DELTA_INVALID", `Cannot apply delta ${op[0]} at ${JSON.stringify(op[1])}: ${why}`);
}

/**
 * Checks that a decoded value is a well-formed delta.
 *
 * @returns The value typed as a delta.
 * @throws {FrameError} `DELTA_INVALID` when it is not.
 */
export function validateDelta(value: unknown): DeltaOp[] {
  if (!Array.isArray(value)) throw new FrameError("DELTA_INVALID", "Cannot accept delta: not an array");
  if (value.length > DELTA_OPS_MAX) {
    throw new FrameError(
      "DELTA_INVALID",
      `Cannot accept delta: ${value.length} ops exceeds ${DELTA_OPS_MAX}`,
    );
  }
  for (const op of value) {
    const ok = Array.isArray(op) && Array.isArray(op[1]) &&
      (op[1] as unknown[]).every((k) =>
        typeof k === "string" || (typeof k === "number" && Number.isInteger(k))
      ) &&
      ((op[0] === "s" && op.length === 3) || (op[0] === "d" && op.length === 2) ||
        (op[0] === "p" && op.length === 3 && Array.isArray(op[2])));
    if (!ok) throw new FrameError("DELTA_INVALID", `Cannot accept delta: malformed op ${JSON.stringify(op)}`);
  }
  return value as DeltaOp[];
}
