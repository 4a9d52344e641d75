/**
 * Prometheus metrics: counters, gauges and histograms with labels, rendered in the text exposition
 * format (version 0.0.4). A small writer of our own: cheap to record on the hot path, no dependency.
 *
 * @module
 */

/** Default histogram buckets for request latencies, in seconds. */
export const LATENCY_BUCKETS_S = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

type Labels = Record<string, string>;

function labelKey(names: readonly string[], labels: Labels): string {
  return names.map((n) => labels[n] ?? "").join("\u0000");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function renderLabels(names: readonly string[], values: string[], extra = ""): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i])}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(",")}}` : "";
}

function formatNumber(n: number): string {
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return Number.isNaN(n) ? "NaN" : String(n);
}

interface Metric {
  render(): string;
}

abstract class Labeled<V> implements Metric {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { values: string[]; value: V }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  protected entry(labels: Labels, init: () => V): V {
    const key = labelKey(this.labelNames, labels);
    let e = this.series.get(key);
    if (e === undefined) {
      e = { values: this.labelNames.map((n) => labels[n] ?? ""), value: init() };
      this.series.set(key, e);
    }
    return e.value;
  }

  abstract render(): string;
}

/** A monotonically increasing count. */
export class Counter extends Labeled<{ n: number }> {
  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels, () => ({ n: 0 })).n += by;
  }

  /** The current value for `labels` (0 if never incremented). */
  get(labels: Labels = {}): number {
    return this.series.get(labelKey(this.labelNames, labels))?.value.n ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const { values, value } of this.series.values()) {
      lines.push(`${this.name}${renderLabels(this.labelNames, values)} ${formatNumber(value.n)}`);
    }
    return lines.join("\n");
  }
}

/** A value that goes up and down; `collect` may refresh it at scrape time. */
export class Gauge extends Labeled<{ n: number }> {
  collect?: () => void;

  set(labels: Labels, value: number): void {
    this.entry(labels, () => ({ n: 0 })).n = value;
  }

  /** Drops every series (for gauges rebuilt at each scrape). */
  reset(): void {
    this.series.clear();
  }

  render(): string {
    this.collect?.();
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const { values, value } of this.series.values()) {
      lines.push(`${this.name}${renderLabels(this.labelNames, values)} ${formatNumber(value.n)}`);
    }
    return lines.join("\n");
  }
}

/** Observations counted into cumulative buckets. */
export class Histogram extends Labeled<{ counts: number[]; sum: number; count: number }> {
  readonly buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    buckets: readonly number[] = LATENCY_BUCKETS_S,
  ) {
    super(name, help, labelNames);
    this.buckets = buckets;
  }

  observe(labels: Labels, value: number): void {
    const e = this.entry(
      labels,
      () => ({ counts: new Array(this.buckets.length).fill(0), sum: 0, count: 0 }),
    );
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) e.counts[i]++;
    e.sum += value;
    e.count++;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const { values, value } of this.series.values()) {
      this.buckets.forEach((b, i) => {
        lines.push(
          `${this.name}_bucket${renderLabels(this.labelNames, values, `le="${b}"`)} ${value.counts[i]}`,
        );
      });
      lines.push(`${this.name}_bucket${renderLabels(this.labelNames, values, 'le="+Inf"')} ${value.count}`);
      lines.push(`${this.name}_sum${renderLabels(this.labelNames, values)} ${formatNumber(value.sum)}`);
      lines.push(`${this.name}_count${renderLabels(this.labelNames, values)} ${value.count}`);
    }
    return lines.join("\n");
  }
}

/** A metric computed at scrape time from someone else's numbers (vault stats, process facts). */
export class Collected implements Metric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "gauge";
  readonly #collect: () => [Labels, number][];

  constructor(name: string, help: string, type: "counter" | "gauge", collect: () => [Labels, number][]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#collect = collect;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [labels, value] of this.#collect()) {
      const names = Object.keys(labels);
      lines.push(`${this.name}${renderLabels(names, names.map((n) => labels[n]))} ${formatNumber(value)}`);
    }
    return lines.join("\n");
  }
}

/** A set of metrics rendered together. */
export class Registry {
  readonly #metrics: Metric[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets?: readonly number[],
  ): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets));
  }

  collected(
    name: string,
    help: string,
    type: "counter" | "gauge",
    collect: () => [Labels, number][],
  ): Collected {
    return this.#add(new Collected(name, help, type, collect));
  }

  #add<M extends Metric>(m: M): M {
    this.#metrics.push(m);
    return m;
  }

  /** The whole exposition, ending in a newline. */
  render(): string {
    return this.#metrics.map((m) => m.render()).join("\n") + "\n";
  }
}
