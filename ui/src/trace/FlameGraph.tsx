// The flame graph: an icicle over time (root on top, each child below its parent, as wide as its
// duration; see flame.ts), in service colours, with the critical path as a dark line under its
// sections. Rows out of view are not rendered, and runs of frames too narrow to tell apart are
// drawn as one cluster that zooms in when clicked, so a 10,000-span trace stays light.

import { useMemo, useRef } from 'preact/hooks';
import type { CriticalPath } from './critical_path';
import { flameItems, framesByRow, layoutFlame, type FlameItem } from './flame';
import { useElementSize, useScrollTop } from './hooks';
import { extentIn, percent, visibleRowRange, zoomOnto, type Tick, type TimeWindow } from './layout';
import type { TraceModel } from './model';
import { useServiceColor } from './ServiceColors';
import { TickLabels, TickLines } from './TimeAxis';
import { spanTimingText } from './timing';

const ROW_HEIGHT = 22;
/** A pixel less than a row: rows of frames stay apart. */
const FRAME_HEIGHT = ROW_HEIGHT - 1;
const OVERSCAN = 4;
/** Frames narrower than this join their neighbours in a cluster. */
const MIN_FRAME_PX = 2;
/** Frames narrower than this get no label (thousands of clipped labels are slow to paint). */
const MIN_LABEL_PX = 24;

interface Props {
  model: TraceModel;
  full: TimeWindow;
  zoom: TimeWindow;
  ticks: Tick[];
  path: CriticalPath;
  selected: number;
  matches: ReadonlySet<number> | undefined;
  onSelect: (span: number) => void;
  onZoom: (zoom: TimeWindow) => void;
}

export function FlameGraph(props: Props) {
  const { model, zoom } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const { width, height } = useElementSize(scroller);
  const scrollTop = useScrollTop(scroller);
  const layout = useMemo(() => layoutFlame(model), [model]);
  const byRow = useMemo(() => framesByRow(model, layout), [model, layout]);
  const range = visibleRowRange(scrollTop, height, ROW_HEIGHT, layout.rows, OVERSCAN);
  const rows = byRow.slice(range.first, range.end);
  const items = flameItems(model, rows, zoom, width, MIN_FRAME_PX);
  return (
    <div class="flame">
      <div class="flame-head">
        <TickLabels ticks={props.ticks} />
      </div>
      <div class="flame-scroll" ref={scroller}>
        <div class="flame-canvas" style={{ height: `${layout.rows * ROW_HEIGHT}px` }}>
          <TickLines ticks={props.ticks} />
          {items.map((item) =>
            item.kind === 'frame' ? (
              <Frame key={item.span} {...props} span={item.span} row={item.row} widthPx={width} />
            ) : (
              <Cluster key={`${item.row}-${item.start}`} {...props} cluster={item} />
            ),
          )}
        </div>
      </div>
    </div>
  );
}

function Frame(props: Props & { span: number; row: number; widthPx: number }) {
  const s = props.model.spans[props.span];
  const colorOf = useServiceColor();
  const extent = extentIn(s.start, s.end, props.zoom)!;
  const critical = props.path.bySpan[s.index];
  const classes = ['flame-frame'];
  if (s.index === props.selected) classes.push('selected');
  if (s.isError) classes.push('error');
  if (props.matches) classes.push(props.matches.has(s.index) ? 'match' : 'dimmed');
  const top = props.row * ROW_HEIGHT;
  return (
    <>
      <div
        class={classes.join(' ')}
        data-testid="flame-frame"
        data-span-id={s.spanId}
        data-critical={critical.length > 0 ? 'true' : undefined}
        style={{
          left: percent(extent.left),
          width: percent(extent.width),
          top: `${top}px`,
          height: `${FRAME_HEIGHT}px`,
          background: colorOf(s.service),
        }}
        title={spanTimingText(s, critical)}
        onClick={() => props.onSelect(s.index)}
      >
        {extent.width * props.widthPx >= MIN_LABEL_PX && (
          <>
            <span class="flame-service">{s.service}</span> {s.name}
          </>
        )}
      </div>
      {critical.map((seg) => {
        const part = extentIn(seg.start, seg.end, props.zoom);
        return (
          part && (
            <div
              key={`c${seg.start}`}
              class="flame-critical"
              style={{
                left: percent(part.left),
                width: percent(part.width),
                top: `${top + ROW_HEIGHT - 5}px`,
              }}
            />
          )
        );
      })}
    </>
  );
}

function Cluster(props: Props & { cluster: Extract<FlameItem, { kind: 'cluster' }> }) {
  const c = props.cluster;
  const extent = extentIn(c.start, c.end, props.zoom)!;
  return (
    <div
      class="flame-cluster"
      data-testid="flame-cluster"
      style={{
        left: percent(extent.left),
        width: percent(extent.width),
        top: `${c.row * ROW_HEIGHT}px`,
        height: `${FRAME_HEIGHT}px`,
      }}
      title={`${c.count} spans too narrow to tell apart: click to zoom in`}
      onClick={() => props.onZoom(zoomOnto(props.full, c.start, c.end))}
    />
  );
}
