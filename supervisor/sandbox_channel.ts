/**
 * The supervisor's end of one sandbox: frames out on its stdin, validated frames in from its stdout. A bad
 * frame (malformed, oversized, wrong secret) kills the sandbox with a logged reason; it never throws into
 * the supervisor.
 *
 * @module
 */
import {
  encodeFrame,
  FrameDecoder,
  FrameError,
  type SandboxMessage,
  type SupervisorMessage,
  validateSandboxMessage,
} from "../protocol/mod.ts";
import type { SandboxExit, SandboxProcess } from "../sandbox/mod.ts";

/** Why a channel closed, with the process's exit. */
export interface ChannelClose {
  reason: string;
  exit: SandboxExit;
  stderr: string;
}

/** Callbacks of a channel. */
export interface ChannelHandlers {
  onMessage(msg: SandboxMessage): void;
  onClose(close: ChannelClose): void;
}

/** One sandbox's framed, authenticated connection. */
export class SandboxChannel {
  readonly process: SandboxProcess;
  readonly secret: string;
  #handlers: ChannelHandlers;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #outbox: Uint8Array[] = [];
  #flushing = false;
  #closeReason: string | undefined;
  /** Resolves when the channel has closed and the process is reaped. */
  readonly closed: Promise<ChannelClose>;

  constructor(process: SandboxProcess, secret: string, handlers: ChannelHandlers) {
    this.process = process;
    this.secret = secret;
    this.#handlers = handlers;
    this.#writer = process.stdin.getWriter();
    this.#writer.closed.catch(() => {});
    this.closed = this.#read();
  }

  /** Replaces the callbacks (a warm spare gets its owner's when it is taken). */
  setHandlers(handlers: ChannelHandlers): void {
    this.#handlers = handlers;
  }

  /** Whether the channel is still open. */
  get open(): boolean {
    return this.#closeReason === undefined;
  }

  /** Queues a message; frames queued in one turn of the event loop go out in one write. */
  send(msg: SupervisorMessage): void {
    if (!this.open) return;
    this.#outbox.push(encodeFrame(msg));
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => this.#flush());
    }
  }

  async #flush(): Promise<void> {
    while (this.#outbox.length > 0 && this.open) {
      const frames = this.#outbox;
      this.#outbox = [];
      const bytes = frames.length === 1 ? frames[0] : concat(frames);
      try {
        await this.#writer.write(bytes);
      } catch {
        this.kill("stdin closed");
      }
    }
    this.#flushing = false;
  }

  /** Kills the sandbox; the first reason given is the one reported. */
  kill(reason: string): void {
    this.#closeReason ??= reason;
    this.process.kill(reason);
  }

  async #read(): Promise<ChannelClose> {
    const decoder = new FrameDecoder();
    try {
      for await (const chunk of this.process.stdout) {
        for (const raw of decoder.push(chunk)) {
          const msg = validateSandboxMessage(raw, this.secret);
          if (!this.open) break;
          this.#handlers.onMessage(msg);
        }
      }
    } catch (e) {
      const why = e instanceof FrameError ? `${e.code}: ${e.message}` : `read failed: ${e}`;
      this.kill(`protocol (${why})`);
    }
    this.#closeReason ??= "exited";
    // The process may still run with its stdout closed: make sure it is gone before reporting.
    this.process.kill(this.#closeReason);
    const exit = await this.process.exited;
    // Close our end of its stdin too, or one pipe descriptor leaks per sandbox that ends.
    await this.#writer.abort().catch(() => {});
    const close = { reason: this.#closeReason, exit, stderr: this.process.stderrTail() };
    this.#handlers.onClose(close);
    return close;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
}
