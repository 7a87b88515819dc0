// Builds OTLP JSON trace responses for the trace page's unit tests from a compact description.

import type { KeyValue, OtlpResourceSpans, OtlpSpan, OtlpTraceResponse } from '../src/api/types';

export interface SpanSpec {
  id: string;
  parent?: string;
  service: string;
  name?: string;
  /** Milliseconds after BASE_NS. */
  start: number;
  end: number;
  error?: boolean;
  kind?: number;
  attributes?: Record<string, string>;
}

export const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
/** 2023-11-14 22:13:20 UTC in Unix nanoseconds: beyond 2^53, as real span times are. */
export const BASE_NS = 1_700_000_000_000_000_000n;

export const MS = 1_000_000;

export function unixNs(ms: number): string {
  return String(BASE_NS + BigInt(Math.round(ms * MS)));
}

function otlpSpan(spec: SpanSpec): OtlpSpan {
  const attributes: KeyValue[] = Object.entries(spec.attributes ?? {}).map(([key, v]) => ({
    key,
    value: { stringValue: v },
  }));
  return {
    traceId: TRACE_ID,
    spanId: spec.id,
    ...(spec.parent ? { parentSpanId: spec.parent } : {}),
    name: spec.name ?? `op-${spec.id}`,
    ...(spec.kind ? { kind: spec.kind } : {}),
    startTimeUnixNano: unixNs(spec.start),
    endTimeUnixNano: unixNs(spec.end),
    attributes,
    ...(spec.error ? { status: { code: 2, message: 'boom' } } : {}),
  };
}

/** One resourceSpans per service, in order of the services' first spans. */
export function traceOf(specs: SpanSpec[]): OtlpTraceResponse {
  const byService = new Map<string, OtlpSpan[]>();
  for (const spec of specs) {
    const list = byService.get(spec.service) ?? [];
    list.push(otlpSpan(spec));
    byService.set(spec.service, list);
  }
  const resourceSpans: OtlpResourceSpans[] = [...byService].map(([service, spans]) => ({
    resource: { attributes: [{ key: 'service.name', value: { stringValue: service } }] },
    scopeSpans: [{ scope: { name: 'test-scope', version: '1.0' }, spans }],
  }));
  return { result: { resourceSpans } };
}

/** A chain of `n` spans, each the child of the one before, all in one service. */
export function chainOf(n: number): SpanSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    id: (i + 1).toString(16).padStart(16, '0'),
    parent: i === 0 ? undefined : i.toString(16).padStart(16, '0'),
    service: 'deep',
    start: i * 0.001,
    end: 100 - i * 0.001,
  }));
}
