// The query strings of the SPM API (api/metrics/*, docs/metrics.md) that the services page asks.

import type { MetricsWindow } from './range';

/** The latency quantiles the page shows, as the API's `quantile` parameter. */
export const QUANTILES = { p50: 0.5, p95: 0.95, p99: 0.99 } as const;

export type QuantileName = keyof typeof QUANTILES;

export interface MetricQuery {
  services: readonly string[];
  window: MetricsWindow;
  groupByOperation: boolean;
  /** For api/metrics/latencies only. */
  quantile?: number;
}

/**
 * The parameters of one metrics request. Only server spans: a service's RED numbers are those of
 * the requests it serves (its client spans are its callers' view of other services).
 */
export function metricParams(query: MetricQuery): URLSearchParams {
  const params = new URLSearchParams();
  for (const service of query.services) params.append('service', service);
  params.set('groupByOperation', String(query.groupByOperation));
  if (query.quantile !== undefined) params.set('quantile', String(query.quantile));
  params.set('endTs', String(query.window.endTsMs));
  params.set('lookback', String(query.window.lookbackMs));
  params.set('step', String(query.window.stepMs));
  params.set('ratePer', String(query.window.ratePerMs));
  params.set('spanKind', 'server');
  return params;
}
