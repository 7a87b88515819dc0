// What the services page loads from the API: the map (dependencies, services, whether RED
// metrics are on, each service's whole-range stats) and one service's charts and operations.

import { ApiError, fetchDependencies, fetchMetrics, fetchServices, getJson } from '../api/client';
import { redCharts, type RedCharts } from './charts';
import {
  buildServiceGraph,
  knownServices,
  serviceStats,
  type ServiceGraph,
  type ServiceStats,
} from './graph';
import { buildOperationRows, type OperationRow } from './operations';
import { QUANTILES, metricParams } from './queries';
import { chartWindow, summaryWindow, type MetricsWindow, type TimeRange } from './range';
import type { RedFamilies } from './series';

export type MetricsStatus =
  { state: 'on'; minStepMs: number } | { state: 'off' } | { state: 'failed'; error: unknown };

/** A 501 from api/metrics: span metrics are off (`metrics.enabled: false`) or not stored. */
export function isMetricsOff(error: unknown): boolean {
  return error instanceof ApiError && error.status === 501;
}

function statusOfError(error: unknown): MetricsStatus {
  return isMetricsOff(error) ? { state: 'off' } : { state: 'failed', error };
}

/** Whether RED metrics are on, and the smallest step the API answers (api/metrics/minstep). */
async function loadMetricsStatus(): Promise<MetricsStatus> {
  try {
    const body = await getJson<{ data?: unknown }>('api/metrics/minstep');
    const minStepMs = typeof body.data === 'number' && body.data > 0 ? body.data : 1;
    return { state: 'on', minStepMs };
  } catch (e) {
    return statusOfError(e);
  }
}

export interface MapData {
  graph: ServiceGraph;
  /** Every service the API knows of (stored traces and dependency links), sorted. */
  services: string[];
  metrics: MetricsStatus;
}

/** The map of `range` ending at `endTsMs`. Throws ApiError when the API cannot be read at all. */
export async function loadMap(range: TimeRange, endTsMs: number): Promise<MapData> {
  const [links, stored, status] = await Promise.all([
    fetchDependencies(endTsMs, range.lookbackMs),
    fetchServices(),
    loadMetricsStatus(),
  ]);
  const services = knownServices(stored, links);
  let metrics = status;
  let stats: Map<string, ServiceStats> | undefined;
  if (metrics.state === 'on') {
    try {
      stats = await loadServiceStats(services, range, endTsMs);
    } catch (e) {
      // The map still shows the calls between services.
      metrics = statusOfError(e);
    }
  }
  return { graph: buildServiceGraph(links, stats), services, metrics };
}

/** Each service's calls and error fraction over the whole range. */
async function loadServiceStats(
  services: string[],
  range: TimeRange,
  endTsMs: number,
): Promise<Map<string, ServiceStats>> {
  if (services.length === 0) return new Map();
  const params = metricParams({
    services,
    window: summaryWindow(range, endTsMs),
    groupByOperation: false,
  });
  const [calls, errors] = await Promise.all([
    fetchMetrics('calls', params),
    fetchMetrics('errors', params),
  ]);
  return serviceStats(calls, errors, range.lookbackMs);
}

export interface ServiceMetrics {
  charts: RedCharts;
  /** The window each chart point counts (ratePer). */
  windowMs: number;
  operations: OperationRow[];
}

/** One service's charts and per-operation rows over `range`. */
export async function loadServiceMetrics(
  service: string,
  range: TimeRange,
  endTsMs: number,
  minStepMs: number,
): Promise<ServiceMetrics> {
  const window = chartWindow(range, endTsMs, minStepMs);
  const [chart, summary] = await Promise.all([
    fetchRed(service, window, false),
    fetchRed(service, summaryWindow(range, endTsMs), true),
  ]);
  return {
    charts: redCharts(chart, service),
    windowMs: window.ratePerMs,
    operations: buildOperationRows(summary),
  };
}

/** calls, errors and the three latency quantiles of `service`, in parallel. */
async function fetchRed(
  service: string,
  window: MetricsWindow,
  groupByOperation: boolean,
): Promise<RedFamilies> {
  const query = { services: [service], window, groupByOperation };
  const latency = (quantile: number) =>
    fetchMetrics('latencies', metricParams({ ...query, quantile }));
  const [calls, errors, p50, p95, p99] = await Promise.all([
    fetchMetrics('calls', metricParams(query)),
    fetchMetrics('errors', metricParams(query)),
    latency(QUANTILES.p50),
    latency(QUANTILES.p95),
    latency(QUANTILES.p99),
  ]);
  return { calls, errors, p50, p95, p99 };
}
