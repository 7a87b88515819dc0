// The three RED charts of one service from its chart-window metric families.

import { type ChartData, type RedFamilies, findSeries, toChartData } from './series';
import { toPercent } from './red';

export interface RedCharts {
  /** Calls per second: one series. */
  rate: ChartData;
  /** Percent of calls with status ERROR: one series. */
  errors: ChartData;
  /** Milliseconds: p50, p95, p99. */
  latency: ChartData;
}

export function redCharts(families: RedFamilies, service: string): RedCharts {
  const of = (family: keyof RedFamilies) => findSeries(families[family], service);
  return {
    rate: toChartData([of('calls')]),
    errors: toChartData([of('errors')], toPercent(1)),
    latency: toChartData([of('p50'), of('p95'), of('p99')]),
  };
}
