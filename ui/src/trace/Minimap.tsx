// The minimap: every span of the trace, drawn small on a canvas over the whole trace's time.
// Dragging across it selects the time window that the waterfall and the flame graph zoom to;
// the parts outside the current window are shaded.

import { useEffect, useRef, useState } from 'preact/hooks';
import { useElementSize } from './hooks';
import {
  fractionOf,
  minZoomWidth,
  percent,
  sameWindow,
  windowBetween,
  type TimeWindow,
} from './layout';
import type { TraceModel } from './model';
import { useServiceColor, type ColorOf } from './ServiceColors';

const HEIGHT_PX = 56;
/** The tallest a span's line gets, so that a small trace does not fill the map with blocks. */
const MAX_LINE_PX = 6;
/** A drag shorter than this is a click, not a selection. */
const MIN_DRAG_PX = 3;

interface Props {
  model: TraceModel;
  full: TimeWindow;
  zoom: TimeWindow;
  onZoom: (zoom: TimeWindow) => void;
}

interface Drag {
  from: number;
  to: number;
}

export function Minimap(props: Props) {
  const { model, full, zoom, onZoom } = props;
  const box = useRef<HTMLDivElement>(null);
  const canvas = useRef<HTMLCanvasElement>(null);
  const { width } = useElementSize(box);
  const [drag, setDrag] = useState<Drag | undefined>(undefined);
  const colorOf = useServiceColor();
  useEffect(() => {
    if (canvas.current && width > 0) {
      drawSpans(canvas.current, model, full, width, colorOf);
    }
  }, [model, full, width, colorOf]);

  const at = (e: PointerEvent) => {
    const rect = (e.currentTarget as HTMLElement).getBoundingClientRect();
    return (e.clientX - rect.left) / rect.width;
  };
  const finish = (e: PointerEvent) => {
    if (!drag) return;
    const to = at(e);
    setDrag(undefined);
    if (Math.abs(to - drag.from) * width < MIN_DRAG_PX) return;
    onZoom(windowBetween(full, drag.from, to, minZoomWidth(full)));
  };
  const zoomed = !sameWindow(zoom, full);
  const shown = drag
    ? { from: Math.min(drag.from, drag.to), to: Math.max(drag.from, drag.to) }
    : { from: fractionOf(zoom.start, full), to: fractionOf(zoom.end, full) };
  return (
    <div class="minimap" data-testid="minimap">
      <div
        class="minimap-area"
        ref={box}
        style={{ height: `${HEIGHT_PX}px` }}
        title="Drag to zoom into a time window"
        onPointerDown={(e) => {
          (e.currentTarget as HTMLElement).setPointerCapture(e.pointerId);
          const from = at(e);
          setDrag({ from, to: from });
        }}
        onPointerMove={(e) => drag && setDrag({ from: drag.from, to: at(e) })}
        onPointerUp={finish}
        onPointerCancel={() => setDrag(undefined)}
      >
        <canvas ref={canvas} />
        <div class="minimap-shade" style={{ left: 0, width: percent(shown.from) }} />
        <div class="minimap-shade" style={{ left: percent(shown.to), right: 0 }} />
        <div
          class={drag ? 'minimap-window dragging' : 'minimap-window'}
          style={{ left: percent(shown.from), width: percent(shown.to - shown.from) }}
        />
      </div>
      {zoomed && (
        <button type="button" class="minimap-reset" onClick={() => onZoom(full)}>
          Reset zoom
        </button>
      )}
    </div>
  );
}

/**
 * One line per span, in display order top to bottom, at its place in time. With more spans than
 * pixel rows, neighbours share a pixel row (whole pixels: fractional ones would blur to nothing).
 */
function drawSpans(
  canvas: HTMLCanvasElement,
  model: TraceModel,
  full: TimeWindow,
  width: number,
  colorOf: ColorOf,
) {
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(HEIGHT_PX * ratio);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${HEIGHT_PX}px`;
  const g = canvas.getContext('2d');
  if (!g) return;
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, HEIGHT_PX);
  const line = Math.min(MAX_LINE_PX, HEIGHT_PX / Math.max(1, model.order.length));
  model.order.forEach((i, row) => {
    const s = model.spans[i];
    g.fillStyle = colorOf(s.service);
    const x = fractionOf(s.start, full) * width;
    const w = Math.max(1, fractionOf(s.end, full) * width - x);
    const y = Math.floor(row * line);
    g.fillRect(x, y, w, Math.max(1, Math.floor((row + 1) * line) - y));
  });
}
