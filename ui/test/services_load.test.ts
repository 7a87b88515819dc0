import { beforeEach, describe, expect, it, vi } from 'vitest';
import * as client from '../src/api/client';
import { ApiError } from '../src/api/client';
import { isMetricsOff, loadMap, loadServiceMetrics } from '../src/services/load';
import { rangeOf } from '../src/services/range';
import { family, series, summary } from './services_fixtures';

vi.mock('../src/api/client', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../src/api/client')>()),
  fetchDependencies: vi.fn(),
  fetchServices: vi.fn(),
  fetchMetrics: vi.fn(),
  getJson: vi.fn(),
}));

const mocked = vi.mocked(client);
const END = 1_714_557_600_000;
const HOUR = rangeOf('1h');
const metricsOff = new ApiError('server', 'span metrics are disabled', 501);

beforeEach(() => {
  vi.resetAllMocks();
  mocked.fetchDependencies.mockResolvedValue([{ parent: 'web', child: 'cart', callCount: 12 }]);
  mocked.fetchServices.mockResolvedValue(['cart', 'web', 'batch']);
  mocked.getJson.mockResolvedValue({ data: 1 });
});

/** The metric names and query strings fetchMetrics was called with, in call order. */
function metricCalls(): string[] {
  return mocked.fetchMetrics.mock.calls.map(([name, params]) => `${name}?${params}`);
}

describe('loadMap', () => {
  it('puts whole-range stats of every known service on the map', async () => {
    mocked.fetchMetrics.mockImplementation(async (name) =>
      name === 'calls'
        ? summary('service_call_rate', { cart: 0.01, web: 0.02, batch: 1 / 3600 })
        : summary('service_error_rate', { cart: 0.5, web: 0, batch: 0 }),
    );
    const map = await loadMap(HOUR, END);
    expect(mocked.fetchDependencies).toHaveBeenCalledWith(END, 3_600_000);
    expect(mocked.getJson).toHaveBeenCalledWith('api/metrics/minstep');
    const window = `endTs=${END}&lookback=3600000&step=3600000&ratePer=3600000&spanKind=server`;
    const services = 'service=batch&service=cart&service=web&groupByOperation=false';
    expect(metricCalls()).toEqual([`calls?${services}&${window}`, `errors?${services}&${window}`]);
    expect(map.metrics).toEqual({ state: 'on', minStepMs: 1 });
    expect(map.services).toEqual(['batch', 'cart', 'web']);
    expect(map.graph).toEqual({
      nodes: [
        { service: 'batch', stats: { calls: 1, errorFraction: 0 } },
        { service: 'cart', stats: { calls: 36, errorFraction: 0.5 } },
        { service: 'web', stats: { calls: 72, errorFraction: 0 } },
      ],
      edges: [{ parent: 'web', child: 'cart', calls: 12, failed: 0 }],
    });
  });

  it('shows the map without stats when metrics are off (501)', async () => {
    mocked.getJson.mockRejectedValue(metricsOff);
    const map = await loadMap(HOUR, END);
    expect(map.metrics).toEqual({ state: 'off' });
    expect(mocked.fetchMetrics).not.toHaveBeenCalled();
    expect(map.graph.nodes).toEqual([{ service: 'cart' }, { service: 'web' }]);
  });

  it('asks for no stats when no service is known', async () => {
    mocked.fetchDependencies.mockResolvedValue([]);
    mocked.fetchServices.mockResolvedValue([]);
    const map = await loadMap(HOUR, END);
    expect(mocked.fetchMetrics).not.toHaveBeenCalled();
    expect(map).toEqual({
      graph: { nodes: [], edges: [] },
      services: [],
      metrics: { state: 'on', minStepMs: 1 },
    });
  });

  it('keeps the map when the stats fail, with the error', async () => {
    const down = new ApiError('server', 'no member answered', 503);
    mocked.fetchMetrics.mockRejectedValue(down);
    const map = await loadMap(HOUR, END);
    expect(map.metrics).toEqual({ state: 'failed', error: down });
    expect(map.graph).toEqual({
      nodes: [{ service: 'cart' }, { service: 'web' }],
      edges: [{ parent: 'web', child: 'cart', calls: 12, failed: 0 }],
    });
  });

  it('fails as a whole when the API does not answer', async () => {
    const unreachable = new ApiError('unreachable', 'The tailtrace API did not answer');
    mocked.fetchDependencies.mockRejectedValue(unreachable);
    await expect(loadMap(HOUR, END)).rejects.toBe(unreachable);
  });
});

describe('loadServiceMetrics', () => {
  it('loads charts per step and operations over the whole range', async () => {
    const t = '2024-05-01T10:00:00Z';
    mocked.fetchMetrics.mockImplementation(async (_name, params) =>
      params.get('groupByOperation') === 'true'
        ? summary('op', { 'GET /cart': 0.5 }, 'cart')
        : family('svc', [series('cart', [[t, 0.5]])]),
    );
    const details = await loadServiceMetrics('cart', rangeOf('15m'), END, 1);
    const chart = `groupByOperation=false&endTs=${END}&lookback=900000&step=15000&ratePer=60000`;
    const whole = `groupByOperation=true&endTs=${END}&lookback=900000&step=900000&ratePer=900000`;
    expect(metricCalls()).toEqual([
      `calls?service=cart&${chart}&spanKind=server`,
      `errors?service=cart&${chart}&spanKind=server`,
      `latencies?service=cart&${chart.replace('&endTs', '&quantile=0.5&endTs')}&spanKind=server`,
      `latencies?service=cart&${chart.replace('&endTs', '&quantile=0.95&endTs')}&spanKind=server`,
      `latencies?service=cart&${chart.replace('&endTs', '&quantile=0.99&endTs')}&spanKind=server`,
      `calls?service=cart&${whole}&spanKind=server`,
      `errors?service=cart&${whole}&spanKind=server`,
      `latencies?service=cart&${whole.replace('&endTs', '&quantile=0.5&endTs')}&spanKind=server`,
      `latencies?service=cart&${whole.replace('&endTs', '&quantile=0.95&endTs')}&spanKind=server`,
      `latencies?service=cart&${whole.replace('&endTs', '&quantile=0.99&endTs')}&spanKind=server`,
    ]);
    expect(details.windowMs).toBe(60_000);
    expect(details.charts.rate).toEqual({ xs: [Date.parse(t) / 1000], ys: [[0.5]] });
    expect(details.operations).toEqual([
      { operation: 'GET /cart', rate: 0.5, errorRate: 0.5, p50: 0.5, p95: 0.5, p99: 0.5 },
    ]);
  });

  it('passes on a 501', async () => {
    mocked.fetchMetrics.mockRejectedValue(metricsOff);
    await expect(loadServiceMetrics('cart', HOUR, END, 1)).rejects.toBe(metricsOff);
  });
});

describe('isMetricsOff', () => {
  it('is true for a 501 from the API only', () => {
    expect(isMetricsOff(metricsOff)).toBe(true);
    expect(isMetricsOff(new ApiError('server', 'store failed', 500))).toBe(false);
    expect(isMetricsOff(new Error('501'))).toBe(false);
  });
});
