// The waterfall: the span tree as rows with bars on a time axis. Rows have one fixed height and
// only those in view (plus some overscan) are rendered, inside a scroll container as tall as all
// rows, so a 10,000-span trace scrolls like a 10-span one.

import type { RefObject } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { CriticalPath } from './critical_path';
import { useElementSize, useScrollTop } from './hooks';
import { scrollTopToShow, visibleRowRange, type Tick, type TimeWindow } from './layout';
import type { TraceModel } from './model';
import { TickLabels, TickLines } from './TimeAxis';
import { WaterfallRow } from './WaterfallRow';

export const ROW_HEIGHT = 24;
const OVERSCAN = 12;

/** A request to scroll a span into view; a new `seq` asks again for the same span. */
export interface RevealRequest {
  span: number;
  seq: number;
}

interface Props {
  model: TraceModel;
  /** Span indexes of the rows (collapsed subtrees left out). */
  rows: number[];
  zoom: TimeWindow;
  ticks: Tick[];
  path: CriticalPath;
  collapsed: ReadonlySet<number>;
  selected: number;
  /** The spans matching the search; undefined when nothing is searched. */
  matches: ReadonlySet<number> | undefined;
  reveal: RevealRequest | undefined;
  onSelect: (span: number) => void;
  onToggle: (span: number) => void;
  onCollapseAll: () => void;
  onExpandAll: () => void;
}

export function Waterfall(props: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const { height } = useElementSize(scroller);
  const scrollTop = useScrollTop(scroller);
  useReveal(scroller, props.rows, props.reveal);
  const range = visibleRowRange(scrollTop, height, ROW_HEIGHT, props.rows.length, OVERSCAN);
  const { spans } = props.model;
  return (
    <div class="waterfall">
      <div class="wf-head">
        <div class="wf-head-label">
          <button type="button" onClick={props.onExpandAll} title="Expand all spans">
            Expand all
          </button>
          <button type="button" onClick={props.onCollapseAll} title="Collapse all spans">
            Collapse all
          </button>
        </div>
        <div class="wf-head-axis">
          <TickLabels ticks={props.ticks} />
        </div>
      </div>
      <div class="wf-scroll" ref={scroller}>
        <div class="wf-canvas" style={{ height: `${props.rows.length * ROW_HEIGHT}px` }}>
          <div class="wf-grid">
            <TickLines ticks={props.ticks} />
          </div>
          {props.rows.slice(range.first, range.end).map((i, k) => (
            <WaterfallRow
              key={i}
              span={spans[i]}
              top={(range.first + k) * ROW_HEIGHT}
              height={ROW_HEIGHT}
              zoom={props.zoom}
              critical={props.path.bySpan[i]}
              collapsed={props.collapsed.has(i)}
              selected={i === props.selected}
              match={props.matches?.has(i)}
              onSelect={props.onSelect}
              onToggle={props.onToggle}
            />
          ))}
        </div>
      </div>
    </div>
  );
}

/** Scrolls the requested span's row into view (centred) unless it is already visible. */
function useReveal(
  scroller: RefObject<HTMLDivElement>,
  rows: number[],
  reveal: RevealRequest | undefined,
): void {
  useEffect(() => {
    const element = scroller.current;
    if (!element || !reveal) return;
    const row = rows.indexOf(reveal.span);
    if (row < 0) return;
    element.scrollTop = scrollTopToShow(row, ROW_HEIGHT, element.clientHeight, element.scrollTop);
    // Only a new request scrolls (not new rows): collapsing a span must not jump back to another.
  }, [reveal]);
}
