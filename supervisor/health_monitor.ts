/**
 * The HealthMonitor: cheap per-agent, per-version, per-role (live or shadow) figures — request and error
 * counts, a latency window, restarts, sandbox memory — comparable between a live version and its shadows,
 * plus the supervisor's own runtime figures. Recording is O(1); percentiles are computed on read.
 *
 * @module
 */
import type { HostMetrics } from "./host_deps.ts";

/** Latency samples kept per (agent, version, role). */
export const HEALTH_WINDOW_SAMPLES = 1024;
/** How often sandbox memory is sampled. */
export const HEALTH_SAMPLE_MS = 5_000;
/** Most series kept (an agent × version × role each); the oldest is dropped past it. */
export const HEALTH_SERIES_MAX = 1_000;

/** Live or shadow. */
export type Role = "live" | "shadow";

/** Figures of one series. */
export interface SeriesHealth {
  agent: string;
  version: string;
  role: Role;
  requests: number;
  errors: number;
  error_rate: number;
  p50_ms: number;
  p99_ms: number;
  restarts: number;
  memory_bytes: number | null;
}

class Series {
  requests = 0;
  errors = 0;
  restarts = 0;
  memoryBytes: number | null = null;
  readonly #ring = new Float64Array(HEALTH_WINDOW_SAMPLES);
  #filled = 0;
  #next = 0;

  record(ms: number, ok: boolean): void {
    this.requests++;
    if (!ok) this.errors++;
    this.#ring[this.#next] = ms;
    this.#next = (this.#next + 1) % HEALTH_WINDOW_SAMPLES;
    if (this.#filled < HEALTH_WINDOW_SAMPLES) this.#filled++;
  }

  percentile(p: number): number {
    if (this.#filled === 0) return 0;
    const sorted = Array.from(this.#ring.subarray(0, this.#filled)).sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
  }
}

/** Collects and compares health figures. */
export class HealthMonitor {
  readonly #series = new Map<string, Series & { key: [string, string, Role] }>();

  #get(agent: string, version: string, role: Role): Series {
    const key = `${role}\u0000${agent}\u0000${version}`;
    let s = this.#series.get(key);
    if (s === undefined) {
      if (this.#series.size >= HEALTH_SERIES_MAX) this.#series.delete(this.#series.keys().next().value!);
      s = Object.assign(new Series(), { key: [agent, version, role] as [string, string, Role] });
      this.#series.set(key, s);
    }
    return s;
  }

  /** Records one answered (or failed) invoke. */
  record(agent: string, version: string, role: Role, ms: number, ok: boolean): void {
    this.#get(agent, version, role).record(ms, ok);
  }

  /** Records a sandbox restart. */
  restarted(agent: string, version: string, role: Role): void {
    this.#get(agent, version, role).restarts++;
  }

  /** Sets the last sampled memory of a series' sandbox. */
  memory(agent: string, version: string, role: Role, bytes: number | null): void {
    this.#get(agent, version, role).memoryBytes = bytes;
  }

  /** A HostMetrics that records into this monitor under `role` (for shadows, which have no Prometheus series). */
  recorder(role: Role): HostMetrics {
    return {
      invoked: (labels, outcome, seconds) =>
        this.record(labels.agent, labels.version, role, seconds * 1000, outcome === "ok"),
      restarted: (labels) => this.restarted(labels.agent, "", role),
    };
  }

  /** Every series of an agent (or of all agents). */
  snapshot(agent?: string): SeriesHealth[] {
    const out: SeriesHealth[] = [];
    for (const s of this.#series.values()) {
      const [a, version, role] = s.key;
      if (agent !== undefined && a !== agent) continue;
      out.push({
        agent: a,
        version,
        role,
        requests: s.requests,
        errors: s.errors,
        error_rate: s.requests === 0 ? 0 : s.errors / s.requests,
        p50_ms: s.percentile(0.5),
        p99_ms: s.percentile(0.99),
        restarts: s.restarts,
        memory_bytes: s.memoryBytes,
      });
    }
    return out;
  }

  /** A shadow's figures against the live version's: latency ratio and error rates. */
  compare(agent: string, liveVersion: string, shadowVersion: string) {
    const live = this.snapshot(agent).find((s) => s.role === "live" && s.version === liveVersion);
    const shadow = this.snapshot(agent).find((s) => s.role === "shadow" && s.version === shadowVersion);
    if (live === undefined || shadow === undefined) return null;
    return {
      p50_ratio: live.p50_ms > 0 ? shadow.p50_ms / live.p50_ms : null,
      error_rate_live: live.error_rate,
      error_rate_shadow: shadow.error_rate,
    };
  }
}
