import { useEffect, useRef, useState } from 'preact/hooks';
import { formatDurationNs, formatTimeNs, shortTraceId } from '../format';
import { navigate } from '../router';
import { scatterLayout, type ResultRow } from './results';

const MARGINS = { height: 180, left: 64, right: 16, top: 12, bottom: 24 };

/** Duration over start time, one dot per result; a dot opens its trace. */
export function ScatterPlot(props: { rows: ResultRow[] }) {
  const ref = useRef<SVGSVGElement>(null);
  const width = useWidth(ref);
  const BOX = { ...MARGINS, width };
  const layout = scatterLayout(props.rows, BOX);
  return (
    <svg
      ref={ref}
      class="scatter panel"
      data-testid="scatter-plot"
      viewBox={`0 0 ${BOX.width} ${BOX.height}`}
      role="img"
      aria-label="Trace durations over time"
    >
      {layout.yTicks.map((t) => (
        <g key={`y${t.y}`}>
          <line class="grid" x1={BOX.left} x2={BOX.width - BOX.right} y1={t.y} y2={t.y} />
          <text class="tick" x={BOX.left - 6} y={t.y + 4} text-anchor="end">
            {formatDurationNs(t.ns)}
          </text>
        </g>
      ))}
      {layout.xTicks.map((t, i) => (
        <text
          key={`x${t.x}`}
          class="tick"
          x={t.x}
          y={BOX.height - 6}
          text-anchor={i === 0 ? 'start' : i === layout.xTicks.length - 1 ? 'end' : 'middle'}
        >
          {formatTimeNs(t.ns).slice(11, 19)}
        </text>
      ))}
      {layout.dots.map((d, i) => {
        const row = props.rows[i];
        return (
          <circle
            key={d.traceId}
            data-testid="scatter-dot"
            data-trace-id={d.traceId}
            class={d.error ? 'dot error' : 'dot'}
            cx={d.x}
            cy={d.y}
            r={d.r}
            onClick={() => navigate(`trace/${d.traceId}`)}
          >
            <title>
              {`${row.rootService}: ${row.rootOperation}\n${formatDurationNs(row.durationNs)}, ` +
                `${row.spanCount} spans, ${shortTraceId(row.traceId)}`}
            </title>
          </circle>
        );
      })}
    </svg>
  );
}

/** The element's width in CSS pixels, kept up to date as the window resizes. */
function useWidth(ref: { current: Element | null }): number {
  const [width, setWidth] = useState(900);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(Math.max(200, el.clientWidth)));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return width;
}
