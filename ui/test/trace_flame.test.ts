import { describe, expect, it } from 'vitest';
import { flameItems, framesByRow, layoutFlame } from '../src/trace/flame';
import { buildTraceModel } from '../src/trace/model';
import { MS, chainOf, traceOf, type SpanSpec } from './trace_fixtures';

/** Each span's [ID, row], in display order, and the row count. */
function flameOf(specs: SpanSpec[]): { frames: [string, number][]; rows: number } {
  const model = buildTraceModel(traceOf(specs));
  const layout = layoutFlame(model);
  const frames = layout.frames.map((f): [string, number] => [model.spans[f.span].spanId, f.row]);
  return { frames, rows: layout.rows };
}

describe('layoutFlame', () => {
  it('puts each child one row below its parent', () => {
    expect(
      flameOf([
        { id: 'f', service: 'frontend', start: 0, end: 3100 },
        { id: 'c', parent: 'f', service: 'checkout', start: 50, end: 3050 },
        { id: 'i', parent: 'c', service: 'inventory', start: 150, end: 2950 },
      ]),
    ).toEqual({
      frames: [
        ['f', 0],
        ['c', 1],
        ['i', 2],
      ],
      rows: 3,
    });
  });

  it('keeps sequential siblings on one row', () => {
    expect(
      flameOf([
        { id: 'r', service: 'web', start: 0, end: 100 },
        { id: 'a', parent: 'r', service: 'api', start: 0, end: 40 },
        { id: 'b', parent: 'r', service: 'api', start: 40, end: 90 },
      ]),
    ).toEqual({
      frames: [
        ['r', 0],
        ['a', 1],
        ['b', 1],
      ],
      rows: 2,
    });
  });

  it('moves a sibling that overlaps another below that sibling’s whole subtree', () => {
    expect(
      flameOf([
        { id: 'r', service: 'web', start: 0, end: 100 },
        { id: 'a', parent: 'r', service: 'api', start: 0, end: 60 },
        { id: 'a1', parent: 'a', service: 'db', start: 0, end: 30 },
        { id: 'b', parent: 'r', service: 'api', start: 30, end: 90 },
        { id: 'c', parent: 'r', service: 'api', start: 60, end: 95 },
        { id: 'c1', parent: 'c', service: 'db', start: 60, end: 70 },
      ]),
    ).toEqual({
      frames: [
        ['r', 0],
        ['a', 1],
        ['a1', 2],
        ['b', 3],
        ['c', 1],
        ['c1', 2],
      ],
      rows: 4,
    });
  });

  it('reuses rows freed before a later sibling starts', () => {
    expect(
      flameOf([
        { id: 'r', service: 'web', start: 0, end: 100 },
        { id: 'a', parent: 'r', service: 'api', start: 0, end: 50 },
        { id: 'b', parent: 'r', service: 'api', start: 10, end: 20 },
        { id: 'c', parent: 'r', service: 'api', start: 30, end: 90 },
        { id: 'c1', parent: 'c', service: 'db', start: 40, end: 80 },
      ]),
    ).toEqual({
      frames: [
        ['r', 0],
        ['a', 1],
        ['b', 2],
        ['c', 2],
        ['c1', 3],
      ],
      rows: 4,
    });
  });

  it('lays top-level spans out like siblings', () => {
    expect(
      flameOf([
        { id: 'r', service: 'web', start: 0, end: 100 },
        { id: 'o', parent: 'gone', service: 'api', start: 50, end: 120 },
        { id: 'late', service: 'batch', start: 110, end: 130 },
      ]),
    ).toEqual({
      frames: [
        ['r', 0],
        ['o', 1],
        ['late', 0],
      ],
      rows: 2,
    });
  });

  it('packs a 10,000-level chain into 10,000 rows', () => {
    const layout = layoutFlame(buildTraceModel(traceOf(chainOf(10_000))));
    expect(layout.rows).toBe(10_000);
    expect(layout.frames[9_999].row).toBe(9_999);
  });

  it('lays out nothing for a trace without spans', () => {
    expect(layoutFlame(buildTraceModel({}))).toEqual({ frames: [], rows: 0 });
  });
});

describe('flameItems', () => {
  // A 1000 ms root over 1000 px: 1 px per ms. Row 1 holds, by start: a 0.5 ms sliver at 10,
  // slivers at 11 and 11.5 (touching it), a lone sliver at 20, a wide frame at 30-80, slivers at
  // 80.5 and 81 right after it, and one outside the zoom window at 990.
  const model = buildTraceModel(
    traceOf([
      { id: 'r', service: 'web', start: 0, end: 1000 },
      { id: 'a', parent: 'r', service: 'api', start: 10, end: 10.5 },
      { id: 'b', parent: 'r', service: 'api', start: 11, end: 11.4 },
      { id: 'c', parent: 'r', service: 'api', start: 11.5, end: 12 },
      { id: 'lone', parent: 'r', service: 'api', start: 20, end: 20.5 },
      { id: 'wide', parent: 'r', service: 'api', start: 30, end: 80 },
      { id: 'd', parent: 'r', service: 'api', start: 80.5, end: 80.9 },
      { id: 'e', parent: 'r', service: 'api', start: 81, end: 81.5 },
      { id: 'far', parent: 'r', service: 'api', start: 990, end: 990.5 },
    ]),
  );
  const rows = framesByRow(model, layoutFlame(model));
  const describeItems = (zoomEndMs: number) =>
    flameItems(model, rows, { start: 0, end: zoomEndMs * MS }, 1000, 2).map((item) =>
      item.kind === 'frame'
        ? model.spans[item.span].spanId
        : `${item.count} spans ${item.start / MS}-${item.end / MS} ms`,
    );

  it('sorts each row by start time', () => {
    expect(rows.map((row) => row.map((f) => model.spans[f.span].spanId))).toEqual([
      ['r'],
      ['a', 'b', 'c', 'lone', 'wide', 'd', 'e', 'far'],
    ]);
  });

  it('clusters runs of narrow frames, keeping wide and lone frames', () => {
    expect(describeItems(1000)).toEqual([
      'r',
      '3 spans 10-12 ms',
      'lone',
      'wide',
      '2 spans 80.5-81.5 ms',
      'far',
    ]);
  });

  it('shows every frame once zoomed in far enough, and none outside the window', () => {
    expect(describeItems(100)).toEqual(['r', 'a', 'b', 'c', 'lone', 'wide', 'd', 'e']);
  });
});
