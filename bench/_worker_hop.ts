/**
 * A per-frame hop between a process's main thread and a Worker, measured two ways: a frame-sized message
 * there and back by `postMessage`, and through a SharedArrayBuffer with `Atomics.wait` /
 * `Atomics.waitAsync` (the O V2 plan's shared-memory channel). The worker tier needs neither (its Worker
 * uses the process's pipes directly); the sandbox section reports both next to a whole worker-tier invoke,
 * so the table shows why the shared-memory channel was not built.
 *
 * @module
 */

/** Bytes per message: about one invoke frame. */
const FRAME_BYTES = 128;

const ECHO_WORKER = `self.onmessage = (e) => self.postMessage(e.data);`;

const SAB_WORKER = `
self.onmessage = (e) => {
  const ctl = new Int32Array(e.data, 0, 2);
  const data = new Uint8Array(e.data, 8);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, 0, seen);
    seen = Atomics.load(ctl, 0);
    if (seen < 0) return;
    data[0] = data[0] + 1; // "answer": touch the frame
    Atomics.store(ctl, 1, seen);
    Atomics.notify(ctl, 1);
  }
};`;

function worker(code: string): Worker {
  return new Worker(`data:application/javascript,${encodeURIComponent(code)}`, { type: "module" });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Round trips by postMessage, µs each (median of `rounds` runs of `n`). */
async function postMessageRtt(n: number, rounds: number): Promise<number> {
  const w = worker(ECHO_WORKER);
  const frame = new Uint8Array(FRAME_BYTES);
  const runs: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        await new Promise<void>((resolve) => {
          w.onmessage = () => resolve();
          w.postMessage(frame);
        });
      }
      runs.push(((performance.now() - started) * 1000) / n);
    }
  } finally {
    w.terminate();
  }
  return median(runs);
}

/** Round trips through shared memory, µs each (median of `rounds` runs of `n`). */
async function sharedMemoryRtt(n: number, rounds: number): Promise<number> {
  const w = worker(SAB_WORKER);
  const sab = new SharedArrayBuffer(8 + FRAME_BYTES);
  const ctl = new Int32Array(sab, 0, 2);
  const data = new Uint8Array(sab, 8);
  w.postMessage(sab);
  const runs: number[] = [];
  let seq = 0;
  try {
    for (let r = 0; r < rounds; r++) {
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        data.fill(i & 0xff);
        seq++;
        Atomics.store(ctl, 0, seq);
        Atomics.notify(ctl, 0);
        while (Atomics.load(ctl, 1) !== seq) {
          const wait = Atomics.waitAsync(ctl, 1, seq - 1);
          if (wait.async) await wait.value;
        }
      }
      runs.push(((performance.now() - started) * 1000) / n);
    }
  } finally {
    Atomics.store(ctl, 0, -1);
    Atomics.notify(ctl, 0);
    w.terminate();
  }
  return median(runs);
}

/** Both round trips, µs. */
export async function workerHop(quick: boolean): Promise<{ postMessageUs: number; sharedMemoryUs: number }> {
  const n = quick ? 2_000 : 10_000;
  await postMessageRtt(500, 1); // Warm both paths' JIT.
  await sharedMemoryRtt(500, 1);
  return { postMessageUs: await postMessageRtt(n, 5), sharedMemoryUs: await sharedMemoryRtt(n, 5) };
}

if (import.meta.main) console.log(await workerHop(false));
