import { describe, expect, it } from 'vitest';
import { redCharts } from '../src/services/charts';
import { family, series } from './services_fixtures';

const T0 = '2024-05-01T10:00:00Z';
const T1 = '2024-05-01T10:01:00Z';
const S0 = Date.parse(T0) / 1000;

describe('redCharts', () => {
  const families = {
    calls: family('service_call_rate', [
      series('other', [
        [T0, 9],
        [T1, 9],
      ]),
      series('web', [
        [T0, 'NaN'],
        [T1, 2.5],
      ]),
    ]),
    errors: family('service_error_rate', [
      series('web', [
        [T0, 'NaN'],
        [T1, 0.125],
      ]),
    ]),
    p50: family('service_latencies', [
      series('web', [
        [T0, 'NaN'],
        [T1, 10],
      ]),
    ]),
    p95: family('service_latencies', [
      series('web', [
        [T0, 'NaN'],
        [T1, 95],
      ]),
    ]),
    p99: family('service_latencies', []),
  };

  it("charts the selected service's rate, error percent and three quantiles", () => {
    expect(redCharts(families, 'web')).toEqual({
      rate: { xs: [S0, S0 + 60], ys: [[null, 2.5]] },
      errors: { xs: [S0, S0 + 60], ys: [[null, 12.5]] },
      latency: {
        xs: [S0, S0 + 60],
        ys: [
          [null, 10],
          [null, 95],
          [null, null],
        ],
      },
    });
  });

  it('has no points for a service without series', () => {
    expect(redCharts(families, 'nobody').rate).toEqual({ xs: [], ys: [[]] });
  });
});
