/**
 * Observability: structured logs with rotation and Prometheus metrics.
 *
 * @module
 */
export { LOG_FILE_BYTES_MAX, LOG_FILES_KEPT_MAX, type LogFields, Logger, type LoggerOptions } from "./log.ts";
export { Collected, Counter, Gauge, Histogram, LATENCY_BUCKETS_S, Registry } from "./metrics.ts";
export { withSpan } from "./tracing.ts";
export { descendants, processChildren, processTreeRss, rssBytes } from "./process_tree.ts";
