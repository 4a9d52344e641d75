/**
 * The host process of the `worker` tier: runs the entry module (argv[0]) in a Web Worker with no
 * permission at all and mirrors its end as this process's exit code. For trusted code only: the worker
 * shares this process (a busy loop is stopped by killing the process, never by `terminate()`), and its
 * imports are checked against this host's read grant.
 *
 * The worker reports an explicit exit code by posting `{ [WORKER_EXIT_KEY]: code }`; `Deno.exit` inside a
 * worker ends only the worker, so without that message a worker that ran to completion exits 0.
 *
 * @module
 */

/** The message key a worker posts its exit code under. */
export const WORKER_EXIT_KEY = "__o_worker_exit";

if (import.meta.main) {
  const [entry] = Deno.args;
  if (!entry) {
    console.error("worker_host: no entry module given");
    Deno.exit(2);
  }
  const worker = new Worker(new URL(`file://${entry}`).href, {
    type: "module",
    deno: { permissions: "none" },
  } as WorkerOptions);
  worker.onerror = (e) => {
    e.preventDefault();
    console.error(e.message);
    Deno.exit(1);
  };
  worker.onmessageerror = () => Deno.exit(1);
  worker.onmessage = (e: MessageEvent) => {
    const code = (e.data as Record<string, unknown> | null)?.[WORKER_EXIT_KEY];
    if (typeof code === "number" && Number.isInteger(code)) Deno.exit(code);
  };
}
