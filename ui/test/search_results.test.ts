import { describe, expect, it } from 'vitest';
import type { TraceSummary } from '../src/api/types';
import { niceCeil, scatterLayout, sortRows, toRow, type ResultRow } from '../src/search/results';

function row(id: string, startNs: number, durationNs: number, spans = 1, errors = 0): ResultRow {
  return {
    traceId: id,
    rootService: 's',
    rootOperation: 'op',
    startNs,
    durationNs,
    spanCount: spans,
    errorCount: errors,
    services: [],
    samplingPolicy: '',
  };
}

describe('rows', () => {
  it('reads a summary', () => {
    const s: TraceSummary = {
      traceId: 'ab',
      rootServiceName: 'frontend',
      rootOperationName: 'GET /checkout',
      minStartTimeUnixNano: '1000',
      maxEndTimeUnixNano: '4000',
      durationNano: '3000',
      spanCount: 3,
      errorSpanCount: 1,
      orphanSpanCount: 0,
      services: [{ name: 'frontend', spanCount: 3, errorSpanCount: 1 }],
      samplingPolicy: 'errors',
    };
    expect(toRow(s)).toEqual({
      traceId: 'ab',
      rootService: 'frontend',
      rootOperation: 'GET /checkout',
      startNs: 1000,
      durationNs: 3000,
      spanCount: 3,
      errorCount: 1,
      services: [{ name: 'frontend', spanCount: 3, errorSpanCount: 1 }],
      samplingPolicy: 'errors',
    });
  });

  it('sorts, newest first among ties', () => {
    const rows = [row('a', 1, 50, 2, 0), row('b', 3, 10, 9, 1), row('c', 2, 50, 2, 3)];
    const ids = (o: Parameters<typeof sortRows>[1]) => sortRows(rows, o).map((r) => r.traceId);
    expect(ids('recent')).toEqual(['b', 'c', 'a']);
    expect(ids('longest')).toEqual(['c', 'a', 'b']);
    expect(ids('shortest')).toEqual(['b', 'c', 'a']);
    expect(ids('most-spans')).toEqual(['b', 'c', 'a']);
    expect(ids('most-errors')).toEqual(['c', 'b', 'a']);
    expect(rows.map((r) => r.traceId)).toEqual(['a', 'b', 'c']); // a copy
  });
});

describe('scatter plot', () => {
  const box = { width: 200, height: 120, left: 40, right: 10, top: 10, bottom: 10 };

  it('places dots by start time and duration', () => {
    const layout = scatterLayout([row('a', 0, 1000), row('b', 1000, 500, 4, 1)], box);
    // plot area: x 40..190, y 10..110; durations scaled to niceCeil(1000) = 1000
    expect(layout.dots.map(({ traceId, x, y, error }) => ({ traceId, x, y, error }))).toEqual([
      { traceId: 'a', x: 40, y: 10, error: false },
      { traceId: 'b', x: 190, y: 60, error: true },
    ]);
    expect(layout.dots[0].r).toBeCloseTo(3 + 5 * Math.sqrt(1 / 4));
    expect(layout.dots[1].r).toBe(8);
    expect(layout.yTicks.map((t) => t.ns)).toEqual([0, 250, 500, 750, 1000]);
    expect(layout.xTicks.map((t) => t.x)).toEqual([40, 77.5, 115, 152.5, 190]);
  });

  it('centres a single result', () => {
    const layout = scatterLayout([row('a', 5e9, 2e9)], box);
    expect(layout.dots[0].x).toBe(115);
    expect(layout.dots[0].y).toBe(10);
  });

  it('is empty without results', () => {
    expect(scatterLayout([], box)).toEqual({ dots: [], xTicks: [], yTicks: [] });
  });

  it('rounds the axis up to 1, 2 or 5 times a power of ten', () => {
    expect([1, 3, 7, 12, 2800, 5e9 + 1].map(niceCeil)).toEqual([1, 5, 10, 20, 5000, 1e10]);
  });
});
