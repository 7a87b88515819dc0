import { describe, expect, it } from 'vitest';
import {
  computeCriticalPath,
  criticalPathText,
  criticalTimeOf,
  type CriticalPath,
} from '../src/trace/critical_path';
import { buildTraceModel, type TraceModel } from '../src/trace/model';
import { MS, chainOf, traceOf, type SpanSpec } from './trace_fixtures';

/** The path as [span ID, start ms, end ms] triples by start time. */
function pathOf(specs: SpanSpec[]): { model: TraceModel; path: CriticalPath; segs: unknown[] } {
  const model = buildTraceModel(traceOf(specs));
  const path = computeCriticalPath(model);
  const segs = path.segments.map((s) => [model.spans[s.span].spanId, s.start / MS, s.end / MS]);
  return { model, path, segs };
}

describe('computeCriticalPath', () => {
  it('follows a sequential chain', () => {
    const { segs, path } = pathOf([
      { id: 'r', service: 'web', start: 0, end: 100 },
      { id: 'a', parent: 'r', service: 'api', start: 0, end: 30 },
      { id: 'b', parent: 'r', service: 'api', start: 30, end: 70 },
      { id: 'c', parent: 'r', service: 'db', start: 70, end: 100 },
    ]);
    expect(segs).toEqual([
      ['a', 0, 30],
      ['b', 30, 70],
      ['c', 70, 100],
    ]);
    expect(path.total).toBe(100 * MS);
  });

  it('gives the gaps between children to the parent as its own time', () => {
    const { segs } = pathOf([
      { id: 'r', service: 'web', start: 0, end: 100 },
      { id: 'a', parent: 'r', service: 'api', start: 10, end: 30 },
      { id: 'b', parent: 'r', service: 'api', start: 40, end: 90 },
    ]);
    expect(segs).toEqual([
      ['r', 0, 10],
      ['a', 10, 30],
      ['r', 30, 40],
      ['b', 40, 90],
      ['r', 90, 100],
    ]);
  });

  it('takes the child that ends last among parallel children', () => {
    const { segs, path, model } = pathOf([
      { id: 'r', service: 'web', start: 0, end: 100 },
      { id: 'long', parent: 'r', service: 'api', start: 0, end: 80 },
      { id: 'short', parent: 'r', service: 'api', start: 0, end: 50 },
    ]);
    expect(segs).toEqual([
      ['long', 0, 80],
      ['r', 80, 100],
    ]);
    expect(criticalTimeOf(path, model.bySpanId.get('short')!)).toBe(0);
  });

  it('takes the longer of two children that end together', () => {
    const { segs } = pathOf([
      { id: 'r', service: 'web', start: 0, end: 100 },
      { id: 'short', parent: 'r', service: 'api', start: 50, end: 80 },
      { id: 'long', parent: 'r', service: 'api', start: 20, end: 80 },
    ]);
    expect(segs).toEqual([
      ['r', 0, 20],
      ['long', 20, 80],
      ['r', 80, 100],
    ]);
  });

  it('counts an earlier sibling only for the part the later one does not overlap', () => {
    const { segs } = pathOf([
      { id: 'r', service: 'web', start: 0, end: 100 },
      { id: 'late', parent: 'r', service: 'api', start: 20, end: 90 },
      { id: 'early', parent: 'r', service: 'api', start: 0, end: 50 },
      { id: 'early-child', parent: 'early', service: 'db', start: 5, end: 45 },
    ]);
    expect(segs).toEqual([
      ['early', 0, 5],
      ['early-child', 5, 20],
      ['late', 20, 90],
      ['r', 90, 100],
    ]);
  });

  it('clips a child that overhangs its parent', () => {
    const { segs, path } = pathOf([
      { id: 'r', service: 'web', start: 0, end: 100 },
      { id: 'a', parent: 'r', service: 'api', start: 0, end: 50 },
      { id: 'a1', parent: 'a', service: 'db', start: 40, end: 70 },
      { id: 'b', parent: 'r', service: 'api', start: 80, end: 130 },
    ]);
    expect(segs).toEqual([
      ['a', 0, 40],
      ['a1', 40, 50],
      ['r', 50, 80],
      ['b', 80, 100],
    ]);
    expect(path.total).toBe(100 * MS);
  });

  it('clips a child that starts before its parent', () => {
    const { segs } = pathOf([
      { id: 'r', service: 'web', start: 10, end: 100 },
      { id: 'a', parent: 'r', service: 'api', start: 0, end: 60 },
    ]);
    expect(segs).toEqual([
      ['a', 10, 60],
      ['r', 60, 100],
    ]);
  });

  it('leaves a child that starts after its parent ended off the path', () => {
    const { segs, path, model } = pathOf([
      { id: 'r', service: 'web', start: 0, end: 100 },
      { id: 'a', parent: 'r', service: 'api', start: 20, end: 40 },
      { id: 'async', parent: 'r', service: 'queue', start: 100, end: 150 },
    ]);
    expect(segs).toEqual([
      ['r', 0, 20],
      ['a', 20, 40],
      ['r', 40, 100],
    ]);
    expect(path.total).toBe(100 * MS);
    expect(model.duration).toBe(150 * MS);
  });

  it('walks only the root span when the trace has several top-level spans', () => {
    const { segs } = pathOf([
      { id: 'r', service: 'web', start: 0, end: 100 },
      { id: 'a', parent: 'r', service: 'api', start: 20, end: 60 },
      { id: 'orphan', parent: 'gone', service: 'api', start: 0, end: 120 },
      { id: 'second', service: 'batch', start: 10, end: 30 },
    ]);
    expect(segs).toEqual([
      ['r', 0, 20],
      ['a', 20, 60],
      ['r', 60, 100],
    ]);
  });

  it('puts 2.8 s of a 3.1 s checkout in inventory (the seed story)', () => {
    const { segs, path } = pathOf([
      { id: 'f', service: 'frontend', start: 0, end: 3100 },
      { id: 'c', parent: 'f', service: 'checkout', start: 50, end: 3050 },
      { id: 'i', parent: 'c', service: 'inventory', start: 150, end: 2950 },
      { id: 'cache', parent: 'c', service: 'redis', start: 60, end: 100 },
      { id: 'p', parent: 'c', service: 'payment', start: 2960, end: 3040 },
      { id: 'audit', parent: 'c', service: 'audit', start: 3000, end: 3020 },
    ]);
    expect(segs).toEqual([
      ['f', 0, 50],
      ['c', 50, 60],
      ['cache', 60, 100],
      ['c', 100, 150],
      ['i', 150, 2950],
      ['c', 2950, 2960],
      ['p', 2960, 3040],
      ['c', 3040, 3050],
      ['f', 3050, 3100],
    ]);
    expect(path.services).toEqual([
      { service: 'inventory', duration: 2800 * MS, percent: 90 },
      { service: 'frontend', duration: 100 * MS, percent: 3 },
      { service: 'checkout', duration: 80 * MS, percent: 3 },
      { service: 'payment', duration: 80 * MS, percent: 3 },
      { service: 'redis', duration: 40 * MS, percent: 1 },
    ]);
    expect(path.total).toBe(3100 * MS);
    expect(criticalPathText(path)).toBe(
      '2.8s in inventory (90%), 100ms in frontend (3%), 80ms in checkout (3%), ' +
        '80ms in payment (3%), 40ms in redis (1%)',
    );
  });

  it('is empty for a trace without spans', () => {
    const path = computeCriticalPath(buildTraceModel({}));
    expect([path.segments, path.total, path.services]).toEqual([[], 0, []]);
  });

  it('walks a 10,000-level chain without recursion', () => {
    const model = buildTraceModel(traceOf(chainOf(10_000)));
    const path = computeCriticalPath(model);
    expect(path.total).toBe(100 * MS);
    expect(path.segments.length).toBe(19_999);
    expect(path.bySpan.every((segs) => segs.length > 0)).toBe(true);
  });
});
