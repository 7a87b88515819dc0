// Search results: summaries as list rows, their order, and the duration-over-time scatter plot's
// layout. Pure: no DOM.

import type { TraceSummary } from '../api/types';

export interface ResultRow {
  traceId: string;
  rootService: string;
  rootOperation: string;
  startNs: number;
  durationNs: number;
  spanCount: number;
  errorCount: number;
  services: { name: string; spanCount: number; errorSpanCount: number }[];
  samplingPolicy: string;
}

export function toRow(s: TraceSummary): ResultRow {
  return {
    traceId: s.traceId,
    rootService: s.rootServiceName,
    rootOperation: s.rootOperationName,
    startNs: Number(s.minStartTimeUnixNano),
    durationNs: Number(s.durationNano),
    spanCount: s.spanCount,
    errorCount: s.errorSpanCount,
    services: s.services ?? [],
    samplingPolicy: s.samplingPolicy ?? '',
  };
}

export type SortOrder = 'recent' | 'longest' | 'shortest' | 'most-spans' | 'most-errors';

export const SORT_ORDERS: { value: SortOrder; label: string }[] = [
  { value: 'recent', label: 'Most recent' },
  { value: 'longest', label: 'Longest first' },
  { value: 'shortest', label: 'Shortest first' },
  { value: 'most-spans', label: 'Most spans' },
  { value: 'most-errors', label: 'Most errors' },
];

/** A sorted copy; ties keep the newest first, then the trace ID, so the order is stable. */
export function sortRows(rows: ResultRow[], order: SortOrder): ResultRow[] {
  const key: Record<SortOrder, (r: ResultRow) => number> = {
    recent: (r) => -r.startNs,
    longest: (r) => -r.durationNs,
    shortest: (r) => r.durationNs,
    'most-spans': (r) => -r.spanCount,
    'most-errors': (r) => -r.errorCount,
  };
  const k = key[order];
  return [...rows].sort(
    (a, b) => k(a) - k(b) || b.startNs - a.startNs || a.traceId.localeCompare(b.traceId),
  );
}

export interface ScatterDot {
  traceId: string;
  x: number;
  y: number;
  r: number;
  error: boolean;
}

export interface ScatterLayout {
  dots: ScatterDot[];
  xTicks: { x: number; ns: number }[];
  yTicks: { y: number; ns: number }[];
}

export interface ScatterBox {
  width: number;
  height: number;
  left: number; // room for the duration axis' labels
  bottom: number; // room for the time axis' labels
  top: number;
  right: number;
}

/**
 * Dots at (start time, duration): x over the results' time span, y linear from 0 to the longest
 * duration (a slow outlier stands out, as in Jaeger's plot); the radius grows with the span count.
 */
export function scatterLayout(rows: ResultRow[], box: ScatterBox): ScatterLayout {
  if (rows.length === 0) return { dots: [], xTicks: [], yTicks: [] };
  let minT = Infinity;
  let maxT = -Infinity;
  let maxD = 0;
  let maxSpans = 1;
  for (const r of rows) {
    minT = Math.min(minT, r.startNs);
    maxT = Math.max(maxT, r.startNs);
    maxD = Math.max(maxD, r.durationNs);
    maxSpans = Math.max(maxSpans, r.spanCount);
  }
  // One result, or all at one instant: centre them in a window of one second.
  if (maxT === minT) {
    minT -= 500_000_000;
    maxT += 500_000_000;
  }
  const yMax = niceCeil(maxD || 1);
  const plotW = box.width - box.left - box.right;
  const plotH = box.height - box.top - box.bottom;
  const x = (ns: number) => box.left + ((ns - minT) / (maxT - minT)) * plotW;
  const y = (ns: number) => box.top + plotH - (ns / yMax) * plotH;
  const dots = rows.map((r) => ({
    traceId: r.traceId,
    x: x(r.startNs),
    y: y(r.durationNs),
    r: 3 + 5 * Math.sqrt(r.spanCount / maxSpans),
    error: r.errorCount > 0,
  }));
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({ y: y(f * yMax), ns: f * yMax }));
  const xTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const ns = minT + f * (maxT - minT);
    return { x: x(ns), ns };
  });
  return { dots, xTicks, yTicks };
}

/** The smallest 1, 2 or 5 × 10^k that is ≥ v. */
export function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
