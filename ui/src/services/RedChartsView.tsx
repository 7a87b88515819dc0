// A service's request rate, error rate and latency charts.

import type { RedCharts } from './charts';
import { durationWords } from './range';
import { formatLatencyMs, formatRate, threeDigits } from './red';
import { UPlotChart } from './UPlotChart';

const COLORS = {
  rate: '#2456c8',
  errors: '#c62828',
  p50: '#2e7d32',
  p95: '#e8a200',
  p99: '#7b1fa2',
};

interface RedChartsViewProps {
  charts: RedCharts;
  service: string;
  /** The window each point counts (ratePer). */
  windowMs: number;
}

export function RedChartsView(props: RedChartsViewProps) {
  const { charts } = props;
  return (
    <div data-testid="red-charts" class="red-charts">
      <p class="muted red-charts-note">
        The requests {props.service} served (its server spans, before sampling); each point counts
        the {durationWords(props.windowMs)} before it. Gaps: no calls in that window.
      </p>
      <UPlotChart
        title="Request rate (calls per second)"
        data={charts.rate}
        lines={[{ label: 'calls/s', color: COLORS.rate }]}
        format={formatRate}
      />
      <UPlotChart
        title="Error rate (share of calls with status ERROR)"
        data={charts.errors}
        lines={[{ label: 'errors', color: COLORS.errors }]}
        format={(percent) => `${threeDigits(percent)}%`}
      />
      <UPlotChart
        title="Latency (p50, p95, p99)"
        data={charts.latency}
        lines={[
          { label: 'p50', color: COLORS.p50 },
          { label: 'p95', color: COLORS.p95 },
          { label: 'p99', color: COLORS.p99 },
        ]}
        format={formatLatencyMs}
      />
    </div>
  );
}
