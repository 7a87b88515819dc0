// Reading the SPM API's metric families (docs/metrics.md): point values, labels, the last value
// of each series, and uPlot's columnar chart data with gaps where there is no value.

import type { MetricFamily, MetricPoint, MetricSeries } from '../api/types';

export const SERVICE_LABEL = 'service_name';
export const OPERATION_LABEL = 'operation';

/** The answers of api/metrics/calls, errors and latencies at the page's three quantiles. */
export interface RedFamilies {
  calls: MetricFamily;
  errors: MetricFamily;
  p50: MetricFamily;
  p95: MetricFamily;
  p99: MetricFamily;
}

/**
 * The number of a point. The API writes a value that is not a number as the string "NaN"
 * (before a series exists, or a rate of 0/0); that, and a missing value, is NaN.
 */
export function pointValue(point: MetricPoint): number {
  const v = point.gaugeValue?.doubleValue;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return NaN;
}

export function labelOf(series: MetricSeries, name: string): string | undefined {
  return series.labels.find((l) => l.name === name)?.value;
}

/** The series of `service` (and of `operation`, when given) in `family`. */
export function findSeries(
  family: MetricFamily,
  service: string,
  operation?: string,
): MetricSeries | undefined {
  return family.metrics.find(
    (s) =>
      labelOf(s, SERVICE_LABEL) === service &&
      (operation === undefined || labelOf(s, OPERATION_LABEL) === operation),
  );
}

/**
 * The value of each series' last point, keyed by its `label` (service_name or operation). A
 * summary query (range.ts summaryWindow) has its whole-range value there.
 */
export function lastValues(family: MetricFamily, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of family.metrics) {
    const key = labelOf(s, label);
    const last = s.metricPoints[s.metricPoints.length - 1];
    if (key !== undefined && last) out.set(key, pointValue(last));
  }
  return out;
}

/** uPlot's data: x in Unix seconds, oldest first; one y array per series, null for a gap. */
export interface ChartData {
  xs: number[];
  ys: (number | null)[][];
}

/**
 * Aligns `series` on the union of their timestamps. A series that has no point at a time, has
 * none at all (undefined), or whose value there is NaN has a gap (null: uPlot leaves a hole in
 * the line rather than drawing 0). Each value is multiplied by `scale` (100 for percent).
 */
export function toChartData(series: (MetricSeries | undefined)[], scale = 1): ChartData {
  const byTime = series.map((s) => valuesByTime(s, scale));
  const times = new Set<number>();
  for (const m of byTime) for (const t of m.keys()) times.add(t);
  const xs = [...times].sort((a, b) => a - b);
  const ys = byTime.map((m) => xs.map((t) => m.get(t) ?? null));
  return { xs, ys };
}

/** Unix seconds → value (null for NaN) of one series; points with a bad timestamp are skipped. */
function valuesByTime(series: MetricSeries | undefined, scale: number): Map<number, number | null> {
  const out = new Map<number, number | null>();
  for (const p of series?.metricPoints ?? []) {
    const ms = Date.parse(p.timestamp);
    if (Number.isNaN(ms)) continue;
    const v = pointValue(p);
    out.set(ms / 1000, Number.isFinite(v) ? v * scale : null);
  }
  return out;
}

/**
 * The indices of values with a gap (or the end) on both sides: a line has nothing to join them
 * to, so a chart must draw them as dots or they are invisible (e.g. the only hour with traffic in
 * a 7-day range).
 */
export function isolatedIndices(ys: readonly (number | null)[]): number[] {
  const out: number[] = [];
  ys.forEach((v, i) => {
    if (v !== null && (ys[i - 1] ?? null) === null && (ys[i + 1] ?? null) === null) out.push(i);
  });
  return out;
}
