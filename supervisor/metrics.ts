/**
 * The supervisor's Prometheus metrics, all prefixed `o_`.
 *
 * @module
 */
import { type Counter, type Gauge, type Histogram, Registry } from "../observability/mod.ts";
import type { VaultStats } from "../vault/mod.ts";
import type { HostMetrics } from "./host_deps.ts";

/** How often the event-loop lag is sampled. */
export const EVENT_LOOP_SAMPLE_MS = 500;

/** The q-quantile of samples (nearest rank), or 0 with none. */
function quantile(samples: number[], q: number): number {
  if (samples.length === 0) return 0;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** What the metrics read at scrape time from the rest of the supervisor. */
export interface MetricSources {
  vaultStats(): VaultStats;
  agentStatuses(): string[];
  shadows(): number;
}

/** Metrics recorded by hosts, the broker and the HTTP edge. */
export class SupervisorMetrics implements HostMetrics {
  readonly registry = new Registry();
  readonly invocations: Counter = this.registry.counter(
    "o_invocations_total",
    "Invokes answered, by agent, version and outcome",
    ["agent", "version", "outcome"],
  );
  readonly invokeDuration: Histogram = this.registry.histogram(
    "o_invoke_duration_seconds",
    "Time from sending an invoke to its durable answer",
    ["agent", "version"],
  );
  readonly restarts: Counter = this.registry.counter(
    "o_sandbox_restarts_total",
    "Sandbox restarts, by agent",
    ["agent"],
  );
  readonly toolCalls: Counter = this.registry.counter("o_tool_calls_total", "Brokered tool calls", [
    "tool",
    "outcome",
  ]);
  readonly httpRequests: Counter = this.registry.counter(
    "o_http_requests_total",
    "HTTP requests, by route and status",
    ["route", "status"],
  );
  readonly candidates: Counter = this.registry.counter(
    "o_candidates_total",
    "Candidates decided, by agent and decision (promoted, rejected, failed)",
    ["agent", "decision"],
  );
  readonly evaluations: Counter = this.registry.counter(
    "o_evaluations_total",
    "Candidate evaluations (each over a whole eval set)",
    ["agent"],
  );
  readonly process: Gauge = this.registry.gauge("o_process_memory_bytes", "Supervisor memory", ["kind"]);
  readonly eventLoopLag: Gauge = this.registry.gauge(
    "o_event_loop_lag_seconds",
    "Event-loop lag, last sample",
  );
  #lagTimer: ReturnType<typeof setInterval> | undefined;

  constructor() {
    this.process.collect = () => {
      const m = Deno.memoryUsage();
      this.process.set({ kind: "rss" }, m.rss);
      this.process.set({ kind: "heap_used" }, m.heapUsed);
      this.process.set({ kind: "heap_total" }, m.heapTotal);
      this.process.set({ kind: "external" }, m.external);
    };
  }

  /** Adds the metrics read from the vault and the hosts at scrape time, and starts the lag sampler. */
  attach(sources: MetricSources): void {
    const r = this.registry;
    const wal = () => sources.vaultStats().wal;
    r.collected("o_wal_appends_total", "Records appended to the WAL", "counter", () => [[{}, wal().appends]]);
    r.collected(
      "o_wal_batches_total",
      "Group commits (one fdatasync each)",
      "counter",
      () => [[{}, wal().batches]],
    );
    r.collected(
      "o_wal_failed_batches_total",
      "Group commits that failed",
      "counter",
      () => [[{}, wal().failedBatches]],
    );
    r.collected("o_wal_segments", "WAL segment files", "gauge", () => [[{}, wal().segments]]);
    for (const [q, name] of [[0.5, "p50"], [0.99, "p99"]] as const) {
      r.collected(
        `o_wal_fsync_${name}_seconds`,
        `fdatasync latency over recent batches, ${name}`,
        "gauge",
        () => {
          return [[{}, quantile(wal().fsyncMs, q) / 1000]];
        },
      );
      r.collected(
        `o_checkpoint_duration_${name}_seconds`,
        `Duration of recent checkpoints, ${name}`,
        "gauge",
        () => {
          return [[{}, quantile(sources.vaultStats().checkpointMs, q) / 1000]];
        },
      );
    }
    r.collected(
      "o_checkpoints_total",
      "Checkpoints written",
      "counter",
      () => [[{}, sources.vaultStats().checkpoints]],
    );
    r.collected(
      "o_checkpoint_failures_total",
      "Checkpoints that failed",
      "counter",
      () => [[{}, sources.vaultStats().checkpointFailures]],
    );
    r.collected("o_checkpoint_bytes", "Stored size of the last checkpoint", "gauge", () => {
      return [[{}, sources.vaultStats().checkpointBytes.at(-1) ?? 0]];
    });
    r.collected("o_agents", "Agents, by status", "gauge", () => {
      const counts = new Map<string, number>();
      for (const s of ["ready", "restarting", "starting", "failed", "stopped"]) counts.set(s, 0);
      for (const s of sources.agentStatuses()) counts.set(s, (counts.get(s) ?? 0) + 1);
      return [...counts].map(([status, n]) => [{ status }, n]);
    });
    r.collected("o_shadows", "Shadows running", "gauge", () => [[{}, sources.shadows()]]);
    let expected = performance.now() + EVENT_LOOP_SAMPLE_MS;
    this.#lagTimer = setInterval(() => {
      const now = performance.now();
      this.eventLoopLag.set({}, Math.max(0, now - expected) / 1000);
      expected = now + EVENT_LOOP_SAMPLE_MS;
    }, EVENT_LOOP_SAMPLE_MS);
    Deno.unrefTimer(this.#lagTimer);
  }

  /** Stops the lag sampler. */
  close(): void {
    clearInterval(this.#lagTimer);
  }

  invoked(labels: { agent: string; version: string }, outcome: "ok" | "error", seconds: number): void {
    this.invocations.inc({ ...labels, outcome });
    this.invokeDuration.observe(labels, seconds);
  }

  restarted(labels: { agent: string }): void {
    this.restarts.inc(labels);
  }

  toolCalled(tool: string, ok: boolean): void {
    this.toolCalls.inc({ tool, outcome: ok ? "ok" : "error" });
  }
}
