/**
 * Frames: a `u32` big-endian body length, then a msgpack body. One frame carries one message.
 *
 * @module
 */
import { FrameError } from "./errors.ts";
import { FRAME_BYTES_MAX, FRAME_HEADER_BYTES } from "./limits.ts";
import { decode, encode } from "./msgpack.ts";

/**
 * Encodes a value as one frame.
 *
 * @param value The message.
 * @param bytesMax The largest body allowed.
 * @returns Length prefix and body in one array.
 * @throws {FrameError} `FRAME_TOO_LARGE` when the body exceeds `bytesMax`.
 */
export function encodeFrame(value: unknown, bytesMax: number = FRAME_BYTES_MAX): Uint8Array {
  const body = encode(value);
  if (body.length > bytesMax) {
    throw new FrameError("FRAME_TOO_LARGE", `Cannot send frame: ${body.length} bytes exceeds ${bytesMax}`);
  }
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/**
 * Splits a byte stream into decoded frames. Feed it chunks as they arrive; it holds partial frames.
 * After it throws, the stream is unusable (the sender is to be killed).
 */
export class FrameDecoder {
  #buffer: Uint8Array = new Uint8Array(0);
  #start = 0;
  #end = 0;
  readonly #bytesMax: number;

  /** @param bytesMax The largest body accepted. @default FRAME_BYTES_MAX */
  constructor(bytesMax: number = FRAME_BYTES_MAX) {
    this.#bytesMax = bytesMax;
  }

  /** Bytes received and not yet consumed as whole frames. */
  get pendingBytes(): number {
    return this.#end - this.#start;
  }

  /**
   * Adds a chunk and returns every frame it completes, decoded.
   *
   * @throws {FrameError} `FRAME_TOO_LARGE` as soon as a header announces a body over the limit, or
   *   `MSGPACK_MALFORMED` when a complete body does not decode.
   */
  push(chunk: Uint8Array): unknown[] {
    this.#append(chunk);
    const frames: unknown[] = [];
    while (this.#end - this.#start >= FRAME_HEADER_BYTES) {
      const view = new DataView(
        this.#buffer.buffer,
        this.#buffer.byteOffset + this.#start,
        FRAME_HEADER_BYTES,
      );
      const length = view.getUint32(0);
      if (length > this.#bytesMax) {
        throw new FrameError(
          "FRAME_TOO_LARGE",
          `Cannot accept frame: ${length} bytes exceeds ${this.#bytesMax}`,
        );
      }
      if (this.#end - this.#start < FRAME_HEADER_BYTES + length) break;
      const bodyStart = this.#start + FRAME_HEADER_BYTES;
      frames.push(decode(this.#buffer.subarray(bodyStart, bodyStart + length)));
      this.#start = bodyStart + length;
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return frames;
  }

  #append(chunk: Uint8Array): void {
    if (this.#end + chunk.length > this.#buffer.length) {
      const live = this.#end - this.#start;
      const size = Math.max(this.#buffer.length * 2, live + chunk.length, 4096);
      const next = size > this.#buffer.length ? new Uint8Array(size) : this.#buffer;
      next.set(this.#buffer.subarray(this.#start, this.#end), 0);
      this.#buffer = next;
      this.#start = 0;
      this.#end = live;
    }
    this.#buffer.set(chunk, this.#end);
    this.#end += chunk.length;
  }
}
