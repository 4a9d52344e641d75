/**
 * Goal: workers on other "machines" — separate network namespaces that reach Postgres only over a veth
 * pair — serve the evaluation queue, and a worker cut off from the database in the middle of a job loses
 * nothing and finishes nothing twice: its job is done by the other worker once the lease expires, and
 * when the cut heals the stale holder's result is refused (it reports the job `lost`) and it goes back to
 * work.
 * Method: two namespaces, each with a veth pair (host side 10.N.i.1/30, namespace side .2). Postgres
 * listens on 127.0.0.1 only, so a TCP forwarder of this test listens on each veth's host address and
 * relays to 127.0.0.1:5432; it counts the bytes it relays and can cut its connections (close them, refuse
 * new ones) to partition one worker. The workers are real `main.ts worker` processes started with `ip
 * netns exec`. This test needs root and `ip netns`; where that is not permitted it fails with the reason.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { PostgresEvaluator } from "../evolution/distributed.ts";
import { SandboxEvaluator } from "../evolution/mod.ts";
import { JobQueue } from "../vault/job_queue.ts";
import {
  dropSchema,
  freshSchema,
  POSTGRES_URL,
  sorterMutants,
  startWorker,
  withoutTimings,
  type WorkerProcess,
} from "./distributed_workers.ts";

const LEASE_S = 2;
const POSTGRES_PORT = Number(new URL(POSTGRES_URL).port || 5432);

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(
      `Cannot set up the network namespaces: 'ip ${args.join(" ")}' failed: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/** A namespace with a veth pair to the root namespace. */
interface Namespace {
  name: string;
  hostVeth: string;
  hostAddress: string;
  nsAddress: string;
}

async function makeNamespace(tag: string, index: number, subnet: number): Promise<Namespace> {
  const ns: Namespace = {
    name: `o_dn_${tag}_${index}`,
    hostVeth: `odh${tag}${index}`,
    hostAddress: `10.${subnet}.${index}.1`,
    nsAddress: `10.${subnet}.${index}.2`,
  };
  const nsVeth = `odn${tag}${index}`;
  await ip("netns", "add", ns.name);
  await ip("link", "add", ns.hostVeth, "type", "veth", "peer", "name", nsVeth);
  await ip("link", "set", nsVeth, "netns", ns.name);
  await ip("addr", "add", `${ns.hostAddress}/30`, "dev", ns.hostVeth);
  await ip("link", "set", ns.hostVeth, "up");
  await ip("netns", "exec", ns.name, "ip", "addr", "add", `${ns.nsAddress}/30`, "dev", nsVeth);
  await ip("netns", "exec", ns.name, "ip", "link", "set", nsVeth, "up");
  await ip("netns", "exec", ns.name, "ip", "link", "set", "lo", "up");
  return ns;
}

async function removeNamespace(ns: Namespace): Promise<void> {
  await ip("netns", "del", ns.name).catch(() => {});
  await ip("link", "del", ns.hostVeth).catch(() => {});
}

async function netnsPids(ns: Namespace): Promise<number[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "pids", ns.name], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter(Boolean).map(Number);
}

/** Relays TCP from one address of the root namespace to Postgres on 127.0.0.1; can cut its clients off. */
class Forwarder {
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #serving: Promise<void>;
  #blocked = false;
  bytes = 0;
  connections = 0;

  constructor(hostname: string) {
    this.#listener = Deno.listen({ hostname, port: 0 });
    this.#serving = this.#serve();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  async #serve(): Promise<void> {
    for await (const client of this.#listener) {
      if (this.#blocked) {
        client.close();
        continue;
      }
      this.connections++;
      void this.#relay(client);
    }
  }

  async #relay(client: Deno.Conn): Promise<void> {
    let upstream: Deno.Conn;
    try {
      upstream = await Deno.connect({ hostname: "127.0.0.1", port: POSTGRES_PORT });
    } catch {
      client.close();
      return;
    }
    this.#conns.add(client);
    this.#conns.add(upstream);
    const count = () =>
      new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, c) => {
          this.bytes += chunk.length;
          c.enqueue(chunk);
        },
      });
    const close = () => {
      for (const c of [client, upstream]) {
        if (this.#conns.delete(c)) {
          try {
            c.close();
          } catch { /* closed */ }
        }
      }
    };
    await Promise.all([
      client.readable.pipeThrough(count()).pipeTo(upstream.writable).catch(() => {}),
      upstream.readable.pipeThrough(count()).pipeTo(client.writable).catch(() => {}),
    ]).finally(close);
  }

  /** Cuts every relayed connection and refuses new ones until {@link Forwarder.heal}. */
  cut(): void {
    this.#blocked = true;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    this.#conns.clear();
  }

  heal(): void {
    this.#blocked = false;
  }

  async close(): Promise<void> {
    this.cut();
    this.#listener.close();
    await this.#serving.catch(() => {});
  }
}

/** Waits until the worker reports a claim it has not finished yet. */
async function claimInProgress(worker: WorkerProcess): Promise<number> {
  const claim = await worker.waitFor((e) => e.t === "claimed", 30_000) as { job: number };
  return claim.job;
}

Deno.test("distributed evaluation: workers in network namespaces over veth; a partitioned worker's job is redone once", async () => {
  const tag = String(Deno.pid % 100_000);
  const subnet = 200 + (Deno.pid % 50);
  const namespaces: Namespace[] = [];
  const forwarders: Forwarder[] = [];
  const workers: WorkerProcess[] = [];
  const { schema, url } = freshSchema("dist_netns");
  const evaluator = await PostgresEvaluator.open(url, { keepJobs: true, sourcesPerJobMax: 3 });
  const local = new SandboxEvaluator({ parallel: 2 });
  try {
    for (let i = 0; i < 2; i++) namespaces.push(await makeNamespace(tag, i, subnet));
    for (const ns of namespaces) forwarders.push(new Forwarder(ns.hostAddress));
    for (const [i, ns] of namespaces.entries()) {
      const remote = `postgres://postgres@${ns.hostAddress}:${forwarders[i].port}/test?schema=${schema}`;
      workers.push(
        await startWorker(remote, { concurrency: 1, leaseS: LEASE_S, id: `ns${i}`, netns: ns.name }),
      );
    }
    for (const [i, ns] of namespaces.entries()) {
      ok((await netnsPids(ns)).includes(workers[i].pid), `worker ${i} runs inside ${ns.name}`);
    }
    const { live, sources } = sorterMutants(30, 5);
    const options = { repeats: 3 };
    const expected = await local.evaluate(sources, live, options);

    // Cut worker 0 off while it holds a job.
    const [cutOff, other] = workers;
    const evaluation = evaluator.evaluate(sources, live, options);
    const job = await claimInProgress(cutOff);
    forwarders[0].cut();
    const results = await evaluation;
    deepStrictEqual(
      results.map(withoutTimings),
      expected.map(withoutTimings),
      "results equal a local evaluation",
    );

    const queue = await JobQueue.connect(url);
    const rows = await queue.jobs(evaluator.stats().lastBatch!);
    await queue.close();
    ok(rows.every((r) => r.status === "done"), "every job is done");
    const redone = rows.find((r) => r.id === job)!;
    ok(redone.attempts >= 2, `the cut-off worker's job was claimed again: ${redone.attempts}`);
    strictEqual(redone.doneBy, other.id, "the job was finished by the worker that could reach the vault");

    // Heal: the stale holder learns its job is gone (its late result is refused), then works again.
    forwarders[0].heal();
    const late = await cutOff.waitFor((e) => e.t === "lost" && e.job === job, 30_000);
    strictEqual((late as { accepted?: boolean }).accepted ?? false, false);
    const accepted = [...cutOff.events, ...other.events].filter((e) => e.t === "done" && e.accepted);
    deepStrictEqual(
      accepted.map((e) => (e as { job: number }).job).sort((a, b) => a - b),
      rows.map((r) => r.id),
      "each job was accepted from exactly one worker",
    );
    const before = cutOff.events.filter((e) => e.t === "done" && e.accepted).length;
    const more = sorterMutants(24, 6);
    await evaluator.evaluate(more.sources, more.live, { repeats: 5 });
    ok(
      cutOff.events.filter((e) => e.t === "done" && e.accepted).length > before,
      "the healed worker takes jobs again",
    );
    for (const f of forwarders) ok(f.bytes > 0 && f.connections > 0, "traffic went over each veth");
  } finally {
    for (const w of workers) w.kill("SIGTERM");
    await Promise.all(workers.map((w) => w.exited));
    for (const f of forwarders) await f.close();
    for (const ns of namespaces) await removeNamespace(ns);
    await evaluator.close();
    await local.close();
    await dropSchema(schema);
  }
});
