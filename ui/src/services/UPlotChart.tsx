// A uPlot time-series chart that fills its container's width.

import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { isolatedIndices, type ChartData } from './series';

export interface ChartLine {
  label: string;
  color: string;
}

interface UPlotChartProps {
  title: string;
  data: ChartData;
  /** One per y array of `data`. */
  lines: ChartLine[];
  /** A y value as the axis and the legend show it. */
  format: (value: number) => string;
}

const HEIGHT = 180;
const NO_VALUE = '–';

export function UPlotChart(props: UPlotChartProps) {
  const container = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = container.current;
    if (!el) return;
    const { xs, ys } = props.data;
    const plot = new uPlot(chartOptions(props, el.clientWidth), [xs, ...ys], el);
    // uPlot draws at a fixed size: follow the container when the window is resized.
    const resize = () => plot.setSize({ width: el.clientWidth, height: HEIGHT });
    const observer = new ResizeObserver(resize);
    observer.observe(el);
    return () => {
      observer.disconnect();
      plot.destroy();
    };
  }, [props.data]);
  return (
    <figure class="red-chart">
      <figcaption>{props.title}</figcaption>
      <div ref={container} class="red-chart-plot" />
    </figure>
  );
}

function chartOptions(props: UPlotChartProps, width: number): uPlot.Options {
  const format = (v: number | null | undefined) => (v == null ? NO_VALUE : props.format(v));
  return {
    width,
    height: HEIGHT,
    scales: { x: { time: true }, y: { range: fromZero } },
    series: [
      {},
      ...props.lines.map((line, i) => ({
        label: line.label,
        stroke: line.color,
        width: 1.5,
        // A NaN point (no calls in its window) stays a hole in the line.
        spanGaps: false,
        value: (_u: uPlot, v: number | null) => format(v),
        // uPlot hides dots on dense series; keep those of values that no line reaches.
        points: { filter: isolatedFilter(props.data.ys[i]) },
      })),
    ],
    axes: [{}, { size: 64, values: (_u, splits) => splits.map(format) }],
    legend: { show: true, live: true },
  };
}

function isolatedFilter(ys: readonly (number | null)[]): uPlot.Series.Points.Filter {
  const isolated = isolatedIndices(ys);
  return (_u, _seriesIdx, show) => (show || isolated.length === 0 ? null : isolated);
}

/** The y scale starts at 0, so a rate's or a latency's changes are not exaggerated. */
function fromZero(_u: uPlot, _min: number | null, max: number | null): uPlot.Range.MinMax {
  return [0, max !== null && Number.isFinite(max) && max > 0 ? max * 1.1 : 1];
}
