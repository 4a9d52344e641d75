/**
 * Tracing: OpenTelemetry spans through Deno's built-in OTel export (enabled with `OTEL_DENO=true` and the
 * usual `OTEL_EXPORTER_OTLP_*` variables; without them every call here is a no-op). Spans carry the
 * request id, so a trace lines up with the JSON log lines of the same request.
 *
 * @module
 */
import { type Attributes, type Span, SpanStatusCode, trace } from "@opentelemetry/api";

const tracer = trace.getTracer("o", "0.1.0");

/**
 * Runs `fn` inside a span named `name`; a throw marks the span as an error and is rethrown.
 *
 * @returns What `fn` returns.
 */
export function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
      if (e instanceof Error) span.recordException(e);
      throw e;
    } finally {
      span.end();
    }
  });
}
