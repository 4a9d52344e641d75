/**
 * The supervisor's Prometheus metrics, all prefixed `o_`.
 *
 * @module
 */
import { type Counter, type Gauge, type Histogram, Registry } from "../observability/mod.ts";
import type { HostMetrics } from "./host_deps.ts";

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
  readonly agents: Gauge = this.registry.gauge("o_agents", "Agents by status", ["status"]);
  readonly process: Gauge = this.registry.gauge("o_process_memory_bytes", "Supervisor memory", ["kind"]);

  constructor() {
    this.process.collect = () => {
      const m = Deno.memoryUsage();
      this.process.set({ kind: "rss" }, m.rss);
      this.process.set({ kind: "heap_used" }, m.heapUsed);
      this.process.set({ kind: "heap_total" }, m.heapTotal);
      this.process.set({ kind: "external" }, m.external);
    };
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
