// A trace as the page works with it: the OTLP JSON of GET api/v3/traces/{id} turned into spans
// with their service, times relative to the trace's start, and the span tree (parent, children
// by start time, depth, display order). Building it is O(n log n): one map of span IDs, one sort
// of each child list, a few linear passes.

import type { KeyValue, OtlpEvent, OtlpLink, OtlpSpan, OtlpTraceResponse } from '../api/types';
import { STATUS_ERROR, attributeText } from './values';

export interface SpanScope {
  name: string;
  version: string;
}

export interface TraceSpan {
  /** Position in TraceModel.spans: the span's identity on the page (span IDs may repeat). */
  index: number;
  spanId: string;
  /** '' when the span has no parent ID. */
  parentSpanId: string;
  traceId: string;
  traceState: string;
  name: string;
  service: string;
  kind: number;
  statusCode: number;
  statusMessage: string;
  isError: boolean;
  /** Nanoseconds since the trace's first span started; end >= start. */
  start: number;
  end: number;
  duration: number;
  attributes: KeyValue[];
  events: OtlpEvent[];
  links: OtlpLink[];
  resource: KeyValue[];
  scope: SpanScope;
  /** Index of the parent span, -1 for a top-level span. */
  parent: number;
  /** Indexes of the child spans, by start time. */
  children: number[];
  depth: number;
  /** Position in TraceModel.order. */
  position: number;
  /** Number of spans below this one: the subtree is order[position .. position + descendants]. */
  descendants: number;
  /** A parent ID that no span of the trace has (or whose parent chain loops back to it). */
  orphan: boolean;
  /** An earlier span of the trace has the same span ID. */
  duplicateId: boolean;
}

export interface ServiceStats {
  name: string;
  spanCount: number;
  errorCount: number;
}

export interface TraceModel {
  traceId: string;
  spans: TraceSpan[];
  /** Top-level spans (roots, then orphans and cycle breakers among them) by start time. */
  roots: number[];
  /**
   * The span the trace is about: the longest top-level span without a parent ID (an orphan only
   * when every top-level span has a parent ID); ties go to the earliest. It names the trace in
   * the header and is where the critical path starts. -1 for a trace without spans.
   */
  rootIndex: number;
  /** Span indexes in display order: depth first, children by start time. */
  order: number[];
  /** Index of the first span with each span ID. */
  bySpanId: Map<string, number>;
  /** Unix nanoseconds of the first span's start: every span time is relative to it. */
  startUnixNano: bigint;
  /** From the first start to the last end. */
  duration: number;
  /** By name. */
  services: ServiceStats[];
  errorCount: number;
  orphanCount: number;
  duplicateIdCount: number;
  /** The number of levels: 1 for a lone root. */
  depth: number;
}

/** The name OpenTelemetry SDKs report for a resource without service.name. */
export const UNKNOWN_SERVICE = 'unknown_service';

interface RawSpan {
  span: OtlpSpan;
  resource: KeyValue[];
  scope: SpanScope;
  service: string;
}

export function buildTraceModel(response: OtlpTraceResponse, requestedId = ''): TraceModel {
  const raw = flattenSpans(response);
  let origin: bigint | undefined;
  for (const r of raw) {
    const start = parseNanos(r.span.startTimeUnixNano);
    if (origin === undefined || start < origin) origin = start;
  }
  const startUnixNano = origin ?? 0n;
  const spans = raw.map((r, index) => makeSpan(r, index, startUnixNano));
  const bySpanId = new Map<string, number>();
  for (const s of spans) {
    if (bySpanId.has(s.spanId)) s.duplicateId = true;
    else bySpanId.set(s.spanId, s.index);
  }
  const roots = linkParents(spans, bySpanId);
  const order = assignOrder(spans, roots);
  return {
    traceId: spans[0]?.traceId || requestedId,
    spans,
    roots,
    rootIndex: pickRoot(spans, roots),
    order,
    bySpanId,
    startUnixNano,
    duration: spans.reduce((max, s) => Math.max(max, s.end), 0),
    services: serviceStats(spans),
    errorCount: spans.filter((s) => s.isError).length,
    orphanCount: spans.filter((s) => s.orphan).length,
    duplicateIdCount: spans.filter((s) => s.duplicateId).length,
    depth: spans.reduce((max, s) => Math.max(max, s.depth + 1), 0),
  };
}

function flattenSpans(response: OtlpTraceResponse): RawSpan[] {
  const out: RawSpan[] = [];
  for (const rs of response.result?.resourceSpans ?? []) {
    const resource = rs.resource?.attributes ?? [];
    const service = attributeText(resource, 'service.name') || UNKNOWN_SERVICE;
    for (const ss of rs.scopeSpans ?? []) {
      const scope = { name: ss.scope?.name ?? '', version: ss.scope?.version ?? '' };
      for (const span of ss.spans ?? []) out.push({ span, resource, scope, service });
    }
  }
  return out;
}

/** Unix nanoseconds as an exact integer: they exceed 2^53, so Number would round them. */
export function parseNanos(text: string | number | undefined): bigint {
  const s = String(text ?? '');
  return /^\d+$/.test(s) ? BigInt(s) : 0n;
}

/** A parent span ID that means "no parent": absent, empty or all zeros. */
function isNullId(id: string | undefined): boolean {
  return id === undefined || /^0*$/.test(id);
}

function makeSpan(r: RawSpan, index: number, origin: bigint): TraceSpan {
  const s = r.span;
  const start = Number(parseNanos(s.startTimeUnixNano) - origin);
  const end = Math.max(start, Number(parseNanos(s.endTimeUnixNano) - origin));
  const statusCode = s.status?.code ?? 0;
  return {
    index,
    spanId: s.spanId ?? '',
    parentSpanId: isNullId(s.parentSpanId) ? '' : (s.parentSpanId ?? ''),
    traceId: s.traceId ?? '',
    traceState: s.traceState ?? '',
    name: s.name ?? '',
    service: r.service,
    kind: s.kind ?? 0,
    statusCode,
    statusMessage: s.status?.message ?? '',
    isError: statusCode === STATUS_ERROR,
    start,
    end,
    duration: end - start,
    attributes: s.attributes ?? [],
    events: s.events ?? [],
    links: s.links ?? [],
    resource: r.resource,
    scope: r.scope,
    parent: -1,
    children: [],
    depth: 0,
    position: 0,
    descendants: 0,
    orphan: false,
    duplicateId: false,
  };
}

/** By start time; spans starting together keep the order the API returned them in. */
function byStart(spans: TraceSpan[]): (a: number, b: number) => number {
  return (a, b) => spans[a].start - spans[b].start || a - b;
}

/**
 * Sets parent and children and returns the top-level spans by start time. A span whose parent ID
 * names the first span with that ID hangs under it; one whose parent is missing is an orphan at
 * the top level. Parent chains that loop (a corrupt trace) are cut at their earliest span, which
 * becomes a top-level orphan, so every span appears exactly once.
 */
function linkParents(spans: TraceSpan[], bySpanId: Map<string, number>): number[] {
  const roots: number[] = [];
  for (const s of spans) {
    if (s.parentSpanId === '') {
      roots.push(s.index);
      continue;
    }
    const parent = bySpanId.get(s.parentSpanId);
    if (parent === undefined || parent === s.index) {
      s.orphan = true;
      roots.push(s.index);
    } else {
      s.parent = parent;
      spans[parent].children.push(s.index);
    }
  }
  const reached = new Uint8Array(spans.length);
  for (const r of roots) markSubtree(spans, r, reached);
  const unreached = spans.filter((s) => !reached[s.index]).map((s) => s.index);
  for (const i of unreached.sort(byStart(spans))) {
    if (reached[i]) continue;
    const parent = spans[spans[i].parent];
    parent.children = parent.children.filter((c) => c !== i);
    spans[i].parent = -1;
    spans[i].orphan = true;
    roots.push(i);
    markSubtree(spans, i, reached);
  }
  for (const s of spans) s.children.sort(byStart(spans));
  return roots.sort(byStart(spans));
}

function markSubtree(spans: TraceSpan[], top: number, reached: Uint8Array): void {
  const stack = [top];
  while (stack.length > 0) {
    const i = stack.pop()!;
    reached[i] = 1;
    for (const c of spans[i].children) if (!reached[c]) stack.push(c);
  }
}

/** Depth-first display order (iterative: a 10,000-level chain must not overflow the stack). */
function assignOrder(spans: TraceSpan[], roots: number[]): number[] {
  const order: number[] = [];
  const stack = [...roots].reverse();
  while (stack.length > 0) {
    const i = stack.pop()!;
    const s = spans[i];
    s.depth = s.parent < 0 ? 0 : spans[s.parent].depth + 1;
    s.position = order.length;
    order.push(i);
    for (let k = s.children.length - 1; k >= 0; k--) stack.push(s.children[k]);
  }
  for (let p = order.length - 1; p >= 0; p--) {
    const s = spans[order[p]];
    if (s.parent >= 0) spans[s.parent].descendants += s.descendants + 1;
  }
  return order;
}

function pickRoot(spans: TraceSpan[], roots: number[]): number {
  let best = -1;
  for (const i of roots) {
    if (best < 0) {
      best = i;
      continue;
    }
    const [s, b] = [spans[i], spans[best]];
    const better = s.orphan !== b.orphan ? !s.orphan : s.duration > b.duration;
    if (better) best = i;
  }
  return best;
}

function serviceStats(spans: TraceSpan[]): ServiceStats[] {
  const byName = new Map<string, ServiceStats>();
  for (const s of spans) {
    let stats = byName.get(s.service);
    if (!stats) byName.set(s.service, (stats = { name: s.service, spanCount: 0, errorCount: 0 }));
    stats.spanCount++;
    if (s.isError) stats.errorCount++;
  }
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The spans from the top level down to span `index`'s parent. */
export function ancestorsOf(model: TraceModel, index: number): number[] {
  const out: number[] = [];
  for (let p = model.spans[index].parent; p >= 0; p = model.spans[p].parent) out.push(p);
  return out.reverse();
}

/** Unix nanoseconds of a trace-relative time (a Number: rounded to 256 ns, enough to show). */
export function absoluteNs(model: TraceModel, relativeNs: number): number {
  return Number(model.startUnixNano) + relativeNs;
}

/** Nanoseconds since the trace's start of a Unix-nanosecond time (an event's, say). */
export function relativeNs(model: TraceModel, unixNano: string | number | undefined): number {
  return Number(parseNanos(unixNano) - model.startUnixNano);
}
