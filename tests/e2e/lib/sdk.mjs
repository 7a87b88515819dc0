// OpenTelemetry JS SDK factories for the end-to-end tests: one BasicTracerProvider per simulated
// service, each exporting over one OTLP transport to the daemon under test, with an
// InMemorySpanExporter alongside that records what the SDK produced (the expected spans).

import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

// The three OTLP transports of the JS SDK.
export const PROTOCOLS = Object.freeze(['grpc', 'http/protobuf', 'http/json']);

// Default: per-export timeout of the OTLP exporters.
export const EXPORT_TIMEOUT_MS = 5_000;

// Builds the SDK's OTLP trace exporter for `protocol` pointed at the daemon's endpoints
// ({ grpc, http } as "host:port"). `compression` is 'none' (default) or 'gzip'; `timeoutMillis`
// bounds one export, the exporter's own retries included.
export function createOtlpExporter(
  protocol,
  endpoints,
  { compression = 'none', timeoutMillis = EXPORT_TIMEOUT_MS } = {},
) {
  const common = { timeoutMillis, compression };
  switch (protocol) {
    case 'grpc':
      return new GrpcTraceExporter({ ...common, url: `http://${endpoints.grpc}` });
    case 'http/protobuf':
      return new ProtoTraceExporter({ ...common, url: `http://${endpoints.http}/v1/traces` });
    case 'http/json':
      return new JsonTraceExporter({ ...common, url: `http://${endpoints.http}/v1/traces` });
    default:
      throw new Error(`unknown OTLP protocol "${protocol}" (want one of ${PROTOCOLS.join(', ')})`);
  }
}

// Wraps an exporter and records the outcome of every export call, because BatchSpanProcessor
// only logs failed exports; the tests assert on them instead.
class RecordingExporter {
  constructor(inner, label) {
    this.inner = inner;
    this.label = label;
    // { spanCount, code, error, traceIds (distinct, in order), startedAtMs, endedAtMs }, in the
    // order the exports ended; times are Date.now() when export() was called and answered.
    this.calls = [];
  }

  export(spans, resultCallback) {
    const startedAtMs = Date.now();
    const traceIds = [...new Set(spans.map((s) => s.spanContext().traceId))];
    this.inner.export(spans, (result) => {
      this.calls.push({
        spanCount: spans.length,
        code: result.code,
        error: result.error,
        traceIds,
        startedAtMs,
        endedAtMs: Date.now(),
      });
      resultCallback(result);
    });
  }

  forceFlush() {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  shutdown() {
    return this.inner.shutdown();
  }

  // Throws naming the transport and the error if any export failed.
  assertAllSucceeded() {
    const failed = this.calls.filter((c) => c.code !== ExportResultCode.SUCCESS);
    if (failed.length > 0) {
      const f = failed[0];
      throw new Error(
        `${this.label}: ${failed.length} of ${this.calls.length} OTLP exports failed; first: ` +
          `${f.spanCount} spans, ${f.error?.stack ?? f.error?.message ?? String(f.error)}` +
          (f.error?.code !== undefined ? ` (code ${f.error.code})` : ''),
      );
    }
  }
}

// One simulated service: its own resource, BasicTracerProvider, tracer and OTLP exporter (so its
// spans travel in their own request/connection). All spans ended on it are exported in one batch
// by flush().
export class ServiceClient {
  constructor({
    serviceName,
    protocol,
    endpoints,
    resourceAttributes = {},
    compression = 'none',
    scopeName = `e2e.${serviceName}`,
    scopeVersion = '1.2.3',
  }) {
    this.serviceName = serviceName;
    this.protocol = protocol;
    this.resource = defaultResource().merge(
      resourceFromAttributes({ 'service.name': serviceName, ...resourceAttributes }),
    );
    this.memory = new InMemorySpanExporter();
    this.exporter = new RecordingExporter(
      createOtlpExporter(protocol, endpoints, { compression }),
      `service ${serviceName} over ${protocol}${compression !== 'none' ? ` (${compression})` : ''}`,
    );
    this.provider = new BasicTracerProvider({
      resource: this.resource,
      spanProcessors: [
        new SimpleSpanProcessor(this.memory),
        // Large delay and batch: nothing is sent until flush(), then everything in one request.
        new BatchSpanProcessor(this.exporter, {
          scheduledDelayMillis: 600_000,
          maxExportBatchSize: 512,
          maxQueueSize: 2048,
          exportTimeoutMillis: EXPORT_TIMEOUT_MS * 2,
        }),
      ],
    });
    this.tracer = this.provider.getTracer(scopeName, scopeVersion);
  }

  // Exports every ended span not yet exported and throws if the daemon rejected any export.
  async flush() {
    await this.provider.forceFlush();
    this.exporter.assertAllSucceeded();
    return this.exporter.calls.length;
  }

  // The spans the SDK produced so far, as plain expected-span records (see toExpectedSpan).
  expectedSpans() {
    return this.memory.getFinishedSpans().map(toExpectedSpan);
  }

  async shutdown() {
    await this.provider.shutdown();
  }
}

// HrTime [seconds, nanos] -> BigInt nanoseconds since the epoch (what OTLP carries).
export function hrToNs(hr) {
  return BigInt(hr[0]) * 1_000_000_000n + BigInt(hr[1]);
}

// BigInt nanoseconds -> whole microseconds (Number), truncating like Jaeger converters do.
export function nsToUs(ns) {
  return Number(ns / 1000n);
}

// A ReadableSpan as a plain record with the fields the daemon must give back.
export function toExpectedSpan(span) {
  const ctx = span.spanContext();
  const startNs = hrToNs(span.startTime);
  const endNs = hrToNs(span.endTime);
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    parentTraceId: span.parentSpanContext?.traceId,
    name: span.name,
    kind: span.kind, // @opentelemetry/api SpanKind (INTERNAL=0 ... CONSUMER=4)
    startNs,
    endNs,
    attributes: { ...span.attributes },
    events: span.events.map((e) => ({
      name: e.name,
      timeNs: hrToNs(e.time),
      attributes: { ...(e.attributes ?? {}) },
    })),
    links: span.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      attributes: { ...(l.attributes ?? {}) },
    })),
    status: { code: span.status.code, message: span.status.message },
    resource: { ...span.resource.attributes },
    serviceName: span.resource.attributes['service.name'],
    scope: { name: span.instrumentationScope.name, version: span.instrumentationScope.version },
  };
}

// A four-span trace over two services, starting `base` ns into the Timeline `t`: web's `rootName`
// (SERVER, with `rootAttributes`) -> query (CLIENT) -> db's SELECT (SERVER) -> scan (INTERNAL,
// with `scanAttributes` and a "page" event). Returns its trace ID (hex).
export function makeQueryTrace(web, db, t, base, { rootName, rootAttributes, scanAttributes }) {
  const ms = 1_000_000;
  const under = (span) => trace.setSpan(ROOT_CONTEXT, span);
  const at = (n) => t.at(base + n * ms);
  const root = web.startSpan(
    rootName,
    { kind: SpanKind.SERVER, startTime: at(0), attributes: rootAttributes },
    ROOT_CONTEXT,
  );
  const query = web.startSpan('query', { kind: SpanKind.CLIENT, startTime: at(1) }, under(root));
  const select = db.startSpan('SELECT', { kind: SpanKind.SERVER, startTime: at(2) }, under(query));
  const scan = db.startSpan(
    'scan',
    { kind: SpanKind.INTERNAL, startTime: at(3), attributes: scanAttributes },
    under(select),
  );
  scan.addEvent('page', { 'page.n': 1 }, at(4));
  scan.end(at(5));
  select.end(at(6));
  query.end(at(7));
  root.end(at(8));
  return root.spanContext().traceId;
}
