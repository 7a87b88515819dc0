// Geometry of the waterfall and the minimap: where a time falls in the visible time window, the
// time axis's ticks, the window a minimap drag selects, and which rows a scroll position shows.

import type { TraceModel } from './model';

/** A stretch of the trace, in nanoseconds since its start. */
export interface TimeWindow {
  start: number;
  end: number;
}

/** The whole trace (at least 1 ns wide, so that fractions are defined for an instant trace). */
export function fullWindow(model: TraceModel): TimeWindow {
  return { start: 0, end: Math.max(model.duration, 1) };
}

/** Where time t falls in the window: 0 at its start, 1 at its end, beyond them outside it. */
export function fractionOf(t: number, w: TimeWindow): number {
  return (t - w.start) / (w.end - w.start);
}

/** A fraction as a CSS percentage: 0.25 → "25%". */
export function percent(fraction: number): string {
  return `${fraction * 100}%`;
}

/** Left edge and width, as fractions of the window, of [start, end] clipped to the window. */
export interface Extent {
  left: number;
  width: number;
}

/** The visible part of [start, end]; undefined when it lies wholly outside the window. */
export function extentIn(start: number, end: number, w: TimeWindow): Extent | undefined {
  if (end < w.start || start > w.end) return undefined;
  const left = Math.max(0, fractionOf(start, w));
  return { left, width: Math.min(1, fractionOf(end, w)) - left };
}

export interface Tick {
  /** Nanoseconds since the trace's start. */
  value: number;
  fraction: number;
  label: string;
}

/** At most `maxTicks` ticks, on a 1-2-5 step, labelled relative to the trace's start. */
export function timeTicks(w: TimeWindow, maxTicks: number): Tick[] {
  const step = niceStep((w.end - w.start) / Math.max(1, maxTicks));
  const unit = tickUnit(w.end);
  const decimals = decimalsFor(step / unit.ns);
  const ticks: Tick[] = [];
  // Integer multiples of the step, so that tick values carry no accumulated rounding.
  for (let k = Math.ceil(w.start / step); k * step <= w.end; k++) {
    const value = k * step;
    const label = value === 0 ? '0' : `${(value / unit.ns).toFixed(decimals)}${unit.name}`;
    ticks.push({ value, fraction: fractionOf(value, w), label });
  }
  return ticks;
}

/** The smallest of 1, 2, 5, 10, 20, 50, … nanoseconds that is at least `raw`. */
export function niceStep(raw: number): number {
  let power = 1;
  while (power * 10 <= raw) power *= 10;
  for (const m of [1, 2, 5]) if (m * power >= raw) return m * power;
  return 10 * power;
}

const UNITS = [
  { name: 's', ns: 1e9 },
  { name: 'ms', ns: 1e6 },
  { name: 'µs', ns: 1e3 },
  { name: 'ns', ns: 1 },
];

/** One unit for every label of an axis: the largest that the axis's end reaches. */
function tickUnit(end: number): { name: string; ns: number } {
  return UNITS.find((u) => end >= u.ns) ?? UNITS[UNITS.length - 1];
}

/** Decimals needed to write multiples of `step` exactly: 0.5 → 1, 0.02 → 2, 5 → 0. */
function decimalsFor(step: number): number {
  let d = 0;
  while (d < 9 && Math.abs(step * 10 ** d - Math.round(step * 10 ** d)) > 1e-9) d++;
  return d;
}

/**
 * The window between two points of a drag over the whole trace (fractions of `full`, in either
 * order, clamped to it), widened around its middle to at least `minWidth` ns.
 */
export function windowBetween(
  full: TimeWindow,
  a: number,
  b: number,
  minWidth: number,
): TimeWindow {
  const clamp = (f: number) => Math.min(1, Math.max(0, f));
  const span = full.end - full.start;
  let start = full.start + clamp(Math.min(a, b)) * span;
  let end = full.start + clamp(Math.max(a, b)) * span;
  const width = Math.min(minWidth, span);
  if (end - start < width) {
    const middle = (start + end) / 2;
    start = Math.min(Math.max(full.start, middle - width / 2), full.end - width);
    end = start + width;
  }
  return { start, end };
}

/** The narrowest zoom: a thousandth of the trace (at least 1 ns). */
export function minZoomWidth(full: TimeWindow): number {
  return Math.max(1, (full.end - full.start) / 1000);
}

/** The zoom window onto [start, end] (ns), widened to the narrowest zoom if needed. */
export function zoomOnto(full: TimeWindow, start: number, end: number): TimeWindow {
  return windowBetween(full, fractionOf(start, full), fractionOf(end, full), minZoomWidth(full));
}

export function sameWindow(a: TimeWindow, b: TimeWindow): boolean {
  return a.start === b.start && a.end === b.end;
}

/** Rows [first, end) to render for a scroll position, with `overscan` rows above and below. */
export interface RowRange {
  first: number;
  end: number;
}

export function visibleRowRange(
  scrollTop: number,
  viewportHeight: number,
  rowHeight: number,
  rowCount: number,
  overscan: number,
): RowRange {
  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const end = Math.min(rowCount, Math.ceil((scrollTop + viewportHeight) / rowHeight) + overscan);
  return { first, end: Math.max(first, end) };
}

/** The scrollTop that shows row `row`: unchanged when it is in view, else the row centred. */
export function scrollTopToShow(
  row: number,
  rowHeight: number,
  viewportHeight: number,
  scrollTop: number,
): number {
  const top = row * rowHeight;
  if (top >= scrollTop && top + rowHeight <= scrollTop + viewportHeight) return scrollTop;
  return Math.max(0, Math.round(top - (viewportHeight - rowHeight) / 2));
}
