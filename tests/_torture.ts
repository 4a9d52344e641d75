/**
 * The kill -9 torture: many clients write unique keys to the counter agent with idempotency keys while
 * the whole server is SIGKILLed again and again. A request that got no answer is retried with the same
 * key after the restart. At the end every acknowledged key must be in the state exactly once, and nothing
 * may be there that was never sent.
 *
 * @module
 */
import { descendants, post, startServer } from "./_server.ts";

/** Options of {@link torture}. */
export interface TortureOptions {
  kills: number;
  clients: number;
  /** Random time the load runs before each kill, ms (min, max). */
  runMs: [number, number];
  seed: number;
  /** Progress callback. */
  onRound?: (round: number, acked: number) => void;
}

/** What the run saw. */
export interface TortureReport {
  kills: number;
  sent: number;
  acked: number;
  finalKeys: number;
  duplicates: string[];
  lostAcked: string[];
  unknown: string[];
  leftoverProcesses: number[];
}

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs the torture; resolves with the report (the caller asserts). */
export async function torture(options: TortureOptions): Promise<TortureReport> {
  const random = prng(options.seed);
  const data = await Deno.makeTempDir({ prefix: "o-torture-" });
  const sent = new Set<string>();
  const acked = new Set<string>();
  const pending = new Set<string>(); // Sent, no answer seen: retried with the same key after a restart.
  const leftover: number[] = [];
  let counter = 0;
  for (let round = 0; round <= options.kills; round++) {
    const server = await startServer({ data, args: ["--log-level", "warn"] });
    let stop = false;
    const client = async (c: number) => {
      while (!stop) {
        const retry = [...pending].find((k) => k.startsWith(`c${c}-`));
        const key = retry ?? `c${c}-${counter++}`;
        sent.add(key);
        pending.add(key);
        try {
          const r = await post(`${server.url}/v1/agents/counter/invoke`, { input: { add: key } }, {
            "idempotency-key": key,
          });
          if (r.status === 200) {
            acked.add(key);
            pending.delete(key);
          }
        } catch {
          return; // The server died under us.
        }
      }
    };
    const clients = Array.from({ length: options.clients }, (_, c) => client(c));
    if (round === options.kills) {
      // The last round: let retries finish, then read the state and stop cleanly.
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await Promise.all(clients);
      const state = await (await fetch(`${server.url}/v1/agents/counter/state`)).json();
      await server.stop("SIGTERM");
      await Deno.remove(data, { recursive: true });
      return report(options.kills, sent, acked, state.state.keys as string[], leftover);
    }
    const [lo, hi] = options.runMs;
    await new Promise((r) => setTimeout(r, lo + random() * (hi - lo)));
    const children = descendants(server.process.pid);
    await server.stop("SIGKILL");
    stop = true;
    await Promise.all(clients);
    await new Promise((r) => setTimeout(r, 200));
    leftover.push(...children.filter((pid) => alive(pid)));
    options.onRound?.(round + 1, acked.size);
  }
  throw new Error("unreachable");
}

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

function report(
  kills: number,
  sent: Set<string>,
  acked: Set<string>,
  keys: string[],
  leftover: number[],
): TortureReport {
  const seen = new Map<string, number>();
  for (const k of keys) seen.set(k, (seen.get(k) ?? 0) + 1);
  return {
    kills,
    sent: sent.size,
    acked: acked.size,
    finalKeys: keys.length,
    duplicates: [...seen].filter(([, n]) => n > 1).map(([k]) => k),
    lostAcked: [...acked].filter((k) => !seen.has(k)),
    unknown: keys.filter((k) => !sent.has(k)),
    leftoverProcesses: leftover,
  };
}
