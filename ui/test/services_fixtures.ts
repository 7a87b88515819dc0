// Builders of SPM API answers (docs/metrics.md) for the services page's tests.

import type { MetricFamily, MetricSeries } from '../src/api/types';

/** A value as the API writes it: a number, or the string "NaN". */
export type Wire = number | 'NaN';

/** A series of `service` (and `operation`) with a point per [RFC 3339 time, value]. */
export function series(
  service: string,
  points: [string, Wire][],
  operation?: string,
): MetricSeries {
  const labels = [{ name: 'service_name', value: service }];
  if (operation !== undefined) labels.push({ name: 'operation', value: operation });
  return {
    labels,
    metricPoints: points.map(([timestamp, v]) => ({ gaugeValue: { doubleValue: v }, timestamp })),
  };
}

export function family(name: string, metrics: MetricSeries[]): MetricFamily {
  return { name, type: 'GAUGE', help: '', metrics };
}

/**
 * A whole-range summary answer (range.ts summaryWindow): per key, a NaN point at the start and
 * the value at the end. Keys are services, or operations of `service` when it is given.
 */
export function summary(
  name: string,
  values: Record<string, Wire>,
  service?: string,
): MetricFamily {
  const points = (v: Wire): [string, Wire][] => [
    ['2024-05-01T09:00:00Z', 'NaN'],
    ['2024-05-01T10:00:00Z', v],
  ];
  const metrics = Object.entries(values).map(([key, v]) =>
    service === undefined ? series(key, points(v)) : series(service, points(v), key),
  );
  return family(name, metrics);
}
