import { describe, expect, it } from 'vitest';
import {
  extentIn,
  fractionOf,
  niceStep,
  scrollTopToShow,
  timeTicks,
  visibleRowRange,
  windowBetween,
} from '../src/trace/layout';

const MS = 1_000_000;
const S = 1_000_000_000;

describe('time axis', () => {
  it('rounds tick steps up to 1, 2 or 5 times a power of ten', () => {
    expect([0.3, 1, 3, 7, 11, 620 * MS].map(niceStep)).toEqual([1, 1, 5, 10, 20, S]);
  });

  it('ticks a 3.1 s trace every half second', () => {
    const ticks = timeTicks({ start: 0, end: 3.1 * S }, 8);
    expect(ticks.map((t) => t.label)).toEqual([
      '0',
      '0.5s',
      '1.0s',
      '1.5s',
      '2.0s',
      '2.5s',
      '3.0s',
    ]);
    expect(ticks.map((t) => t.value)).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3].map((s) => s * S));
    expect(ticks[2].fraction).toBe(1 / 3.1);
  });

  it('labels a zoomed window precisely enough to tell ticks apart', () => {
    const ticks = timeTicks({ start: 2 * S, end: 2 * S + 10 * MS }, 5);
    expect(ticks.map((t) => t.label)).toEqual([
      '2.000s',
      '2.002s',
      '2.004s',
      '2.006s',
      '2.008s',
      '2.010s',
    ]);
    expect(ticks.map((t) => t.fraction)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('labels microsecond traces in µs', () => {
    const ticks = timeTicks({ start: 0, end: 800_000 }, 4);
    expect(ticks.map((t) => t.label)).toEqual(['0', '200µs', '400µs', '600µs', '800µs']);
  });

  it('starts at the first step inside the window', () => {
    const ticks = timeTicks({ start: 1.3 * MS, end: 1.9 * MS }, 4);
    expect(ticks.map((t) => t.label)).toEqual(['1.4ms', '1.6ms', '1.8ms']);
  });
});

describe('time window mapping', () => {
  const zoom = { start: 1 * S, end: 2 * S };

  it('maps times to fractions of the window', () => {
    expect([0.5, 1, 1.25, 2, 3].map((s) => fractionOf(s * S, zoom))).toEqual([-0.5, 0, 0.25, 1, 2]);
  });

  it('clips bars to the window and drops those outside', () => {
    expect(extentIn(1.25 * S, 1.5 * S, zoom)).toEqual({ left: 0.25, width: 0.25 });
    expect(extentIn(0, 1.5 * S, zoom)).toEqual({ left: 0, width: 0.5 });
    expect(extentIn(1.5 * S, 3 * S, zoom)).toEqual({ left: 0.5, width: 0.5 });
    expect(extentIn(0, 0.5 * S, zoom)).toBeUndefined();
    expect(extentIn(2.5 * S, 3 * S, zoom)).toBeUndefined();
    expect(extentIn(2 * S, 2 * S, zoom)).toEqual({ left: 1, width: 0 });
  });

  it('turns a minimap drag into a window, in either direction, clamped to the trace', () => {
    const full = { start: 0, end: 4 * S };
    expect(windowBetween(full, 0.25, 0.5, MS)).toEqual({ start: 1 * S, end: 2 * S });
    expect(windowBetween(full, 0.5, 0.25, MS)).toEqual({ start: 1 * S, end: 2 * S });
    expect(windowBetween(full, -0.5, 1.5, MS)).toEqual({ start: 0, end: 4 * S });
  });

  it('widens a drag narrower than the minimum around its middle, inside the trace', () => {
    const full = { start: 0, end: 4 * S };
    expect(windowBetween(full, 0.5, 0.5, 0.4 * S)).toEqual({ start: 1.8 * S, end: 2.2 * S });
    expect(windowBetween(full, 0, 0, 0.4 * S)).toEqual({ start: 0, end: 0.4 * S });
    expect(windowBetween(full, 1, 1, 0.4 * S)).toEqual({ start: 3.6 * S, end: 4 * S });
    expect(windowBetween(full, 0.5, 0.5, 8 * S)).toEqual({ start: 0, end: 4 * S });
  });
});

describe('row virtualization', () => {
  it('renders the rows in view of a 10,000-span waterfall plus overscan', () => {
    expect(visibleRowRange(5000 * 24, 600, 24, 10_000, 10)).toEqual({ first: 4990, end: 5035 });
    expect(visibleRowRange(0, 600, 24, 10_000, 10)).toEqual({ first: 0, end: 35 });
    expect(visibleRowRange(9990 * 24, 600, 24, 10_000, 10)).toEqual({ first: 9980, end: 10_000 });
    expect(visibleRowRange(100, 600, 24, 0, 10)).toEqual({ first: 0, end: 0 });
  });

  it('includes a row that is partly in view', () => {
    expect(visibleRowRange(30, 50, 24, 100, 0)).toEqual({ first: 1, end: 4 });
  });

  it('scrolls to a row only when it is out of view, then centres it', () => {
    expect(scrollTopToShow(10, 24, 240, 100)).toBe(100);
    expect(scrollTopToShow(100, 24, 240, 0)).toBe(2292);
    expect(scrollTopToShow(1, 24, 240, 100)).toBe(0);
  });
});
