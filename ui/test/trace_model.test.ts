import { describe, expect, it } from 'vitest';
import { collapseAll, revealed, toggled, visibleSpans } from '../src/trace/collapse';
import { absoluteNs, ancestorsOf, buildTraceModel, type TraceModel } from '../src/trace/model';
import { BASE_NS, MS, TRACE_ID, chainOf, traceOf } from './trace_fixtures';

const ids = (model: TraceModel, indexes: number[]) => indexes.map((i) => model.spans[i].spanId);

describe('buildTraceModel', () => {
  it('nests children under their parents, ordered by start time', () => {
    const model = buildTraceModel(
      traceOf([
        { id: 'c', parent: 'a', service: 'api', start: 50, end: 60 },
        { id: 'a', service: 'web', start: 0, end: 100 },
        { id: 'b', parent: 'a', service: 'api', start: 10, end: 40 },
        { id: 'd', parent: 'b', service: 'db', start: 20, end: 30 },
      ]),
    );
    expect(ids(model, model.order)).toEqual(['a', 'b', 'd', 'c']);
    expect(ids(model, model.roots)).toEqual(['a']);
    const a = model.spans[model.bySpanId.get('a')!];
    expect(ids(model, a.children)).toEqual(['b', 'c']);
    expect(model.order.map((i) => model.spans[i].depth)).toEqual([0, 1, 2, 1]);
    expect(model.order.map((i) => model.spans[i].descendants)).toEqual([3, 1, 0, 0]);
    expect(model.order.map((i) => model.spans[i].position)).toEqual([0, 1, 2, 3]);
    expect(ids(model, [model.rootIndex])).toEqual(['a']);
    expect(model.depth).toBe(3);
    expect(model.traceId).toBe(TRACE_ID);
  });

  it('measures times in exact nanoseconds from the first start', () => {
    const response = traceOf([{ id: 'a', service: 'web', start: 0, end: 3100 }]);
    const span = response.result!.resourceSpans![0].scopeSpans![0].spans![0];
    span.startTimeUnixNano = String(BASE_NS + 1n);
    span.endTimeUnixNano = String(BASE_NS + 3_100_000_001n);
    const other = { ...span, spanId: 'b', startTimeUnixNano: String(BASE_NS) };
    response.result!.resourceSpans![0].scopeSpans![0].spans!.push(other);
    const model = buildTraceModel(response);
    expect(model.startUnixNano).toBe(BASE_NS);
    expect(model.spans.map((s) => [s.start, s.end, s.duration])).toEqual([
      [1, 3_100_000_001, 3_100_000_000],
      [0, 3_100_000_001, 3_100_000_001],
    ]);
    expect(model.duration).toBe(3_100_000_001);
    expect(absoluteNs(model, 0)).toBe(Number(BASE_NS));
  });

  it('gives an end before the start a zero duration', () => {
    const model = buildTraceModel(traceOf([{ id: 'a', service: 'web', start: 10, end: 5 }]));
    expect([model.spans[0].start, model.spans[0].end, model.spans[0].duration]).toEqual([0, 0, 0]);
  });

  it('puts orphans at the top level, marked', () => {
    const model = buildTraceModel(
      traceOf([
        { id: 'a', service: 'web', start: 0, end: 100 },
        { id: 'o', parent: 'ffff', service: 'api', start: 5, end: 20 },
        { id: 'p', parent: 'o', service: 'api', start: 6, end: 10 },
      ]),
    );
    expect(ids(model, model.roots)).toEqual(['a', 'o']);
    expect(ids(model, model.order)).toEqual(['a', 'o', 'p']);
    expect(model.spans.map((s) => s.orphan)).toEqual([false, true, false]);
    expect(model.orphanCount).toBe(1);
    expect(model.spans.map((s) => s.depth)).toEqual([0, 0, 1]);
  });

  it('takes the longest span without a parent ID as the root, even if an orphan is longer', () => {
    const model = buildTraceModel(
      traceOf([
        { id: 'o', parent: 'missing', service: 'api', start: 0, end: 500 },
        { id: 'r1', service: 'web', start: 10, end: 50 },
        { id: 'r2', service: 'web', start: 20, end: 300 },
        { id: 'r3', service: 'web', start: 30, end: 300 },
      ]),
    );
    expect(ids(model, model.roots)).toEqual(['o', 'r1', 'r2', 'r3']);
    expect(ids(model, [model.rootIndex])).toEqual(['r2']);
  });

  it('takes the longest orphan as the root when no span lacks a parent ID', () => {
    const model = buildTraceModel(
      traceOf([
        { id: 'o1', parent: 'x', service: 'api', start: 0, end: 50 },
        { id: 'o2', parent: 'y', service: 'api', start: 10, end: 90 },
      ]),
    );
    expect(ids(model, [model.rootIndex])).toEqual(['o2']);
  });

  it('treats an empty or all-zero parent ID as none', () => {
    const response = traceOf([
      { id: 'a', service: 'web', start: 0, end: 10 },
      { id: 'b', service: 'web', start: 1, end: 5 },
    ]);
    const spans = response.result!.resourceSpans![0].scopeSpans![0].spans!;
    spans[0].parentSpanId = '';
    spans[1].parentSpanId = '0000000000000000';
    const model = buildTraceModel(response);
    expect(model.spans.map((s) => [s.parentSpanId, s.orphan])).toEqual([
      ['', false],
      ['', false],
    ]);
    expect(ids(model, model.roots)).toEqual(['a', 'b']);
  });

  it('keeps spans with duplicate IDs, hanging children under the first', () => {
    const model = buildTraceModel(
      traceOf([
        { id: 'a', service: 'web', start: 0, end: 100 },
        { id: 'b', parent: 'a', service: 'api', start: 10, end: 50 },
        { id: 'b', parent: 'a', service: 'api', start: 20, end: 60 },
        { id: 'c', parent: 'b', service: 'db', start: 30, end: 40 },
      ]),
    );
    expect(model.order).toEqual([0, 1, 3, 2]);
    expect(model.spans.map((s) => s.duplicateId)).toEqual([false, false, true, false]);
    expect(model.duplicateIdCount).toBe(1);
    expect(model.bySpanId.get('b')).toBe(1);
  });

  it('cuts a parent cycle at its earliest span', () => {
    const model = buildTraceModel(
      traceOf([
        { id: 'r', service: 'web', start: 0, end: 100 },
        { id: 'x', parent: 'y', service: 'api', start: 20, end: 30 },
        { id: 'y', parent: 'x', service: 'api', start: 10, end: 40 },
        { id: 's', parent: 's', service: 'api', start: 50, end: 60 },
      ]),
    );
    expect(ids(model, model.roots)).toEqual(['r', 'y', 's']);
    expect(ids(model, model.order)).toEqual(['r', 'y', 'x', 's']);
    expect(model.spans.map((s) => s.orphan)).toEqual([false, false, true, true]);
  });

  it('counts services, errors and depth; no service.name is unknown_service', () => {
    const response = traceOf([
      { id: 'a', service: 'web', start: 0, end: 100, error: true },
      { id: 'b', parent: 'a', service: 'api', start: 10, end: 50, error: true },
      { id: 'c', parent: 'a', service: 'api', start: 60, end: 70 },
    ]);
    response.result!.resourceSpans![1].resource = { attributes: [] };
    const model = buildTraceModel(response);
    expect(model.services).toEqual([
      { name: 'unknown_service', spanCount: 2, errorCount: 1 },
      { name: 'web', spanCount: 1, errorCount: 1 },
    ]);
    expect(model.errorCount).toBe(2);
    expect(model.spans[1].statusMessage).toBe('boom');
    expect(model.depth).toBe(2);
  });

  it('reads a trace without spans as empty', () => {
    const model = buildTraceModel({}, 'abc');
    expect([model.spans.length, model.rootIndex, model.duration, model.traceId]).toEqual([
      0,
      -1,
      0,
      'abc',
    ]);
  });

  it('builds a 10,000-level chain without recursion', () => {
    const model = buildTraceModel(traceOf(chainOf(10_000)));
    expect(model.depth).toBe(10_000);
    expect(model.spans[model.order[9_999]].depth).toBe(9_999);
    expect(model.spans[model.rootIndex].descendants).toBe(9_999);
    expect(ancestorsOf(model, model.order[3]).length).toBe(3);
    expect(model.duration).toBe(100 * MS);
  });
});

describe('collapsing', () => {
  const model = buildTraceModel(
    traceOf([
      { id: 'a', service: 'web', start: 0, end: 100 },
      { id: 'b', parent: 'a', service: 'api', start: 10, end: 40 },
      { id: 'd', parent: 'b', service: 'db', start: 20, end: 30 },
      { id: 'c', parent: 'a', service: 'api', start: 50, end: 60 },
      { id: 'z', service: 'batch', start: 70, end: 80 },
    ]),
  );
  const at = (id: string) => model.bySpanId.get(id)!;

  it('skips the subtrees of collapsed spans', () => {
    expect(ids(model, visibleSpans(model, new Set()))).toEqual(['a', 'b', 'd', 'c', 'z']);
    expect(ids(model, visibleSpans(model, new Set([at('b')])))).toEqual(['a', 'b', 'c', 'z']);
    expect(ids(model, visibleSpans(model, collapseAll(model)))).toEqual(['a', 'z']);
  });

  it('collapses every span with children at once', () => {
    expect([...collapseAll(model)].sort()).toEqual([at('a'), at('b')].sort());
  });

  it('toggles one span', () => {
    expect([...toggled(new Set([at('a')]), at('b'))]).toEqual([at('a'), at('b')]);
    expect([...toggled(new Set([at('a'), at('b')]), at('a'))]).toEqual([at('b')]);
  });

  it('expands the ancestors of a span to reveal it', () => {
    const all = collapseAll(model);
    expect([...revealed(model, all, at('d'))]).toEqual([]);
    const unrelated = new Set([at('b')]);
    expect(revealed(model, unrelated, at('c'))).toBe(unrelated);
  });
});
