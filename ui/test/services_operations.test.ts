import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SORT,
  buildOperationRows,
  hasCalls,
  sortRows,
  toggleSort,
  type OperationRow,
} from '../src/services/operations';
import { summary } from './services_fixtures';

function row(operation: string, rate: number, errorRate = 0, p50 = 1, p95 = 2, p99 = 3) {
  return { operation, rate, errorRate, p50, p95, p99 };
}

describe('buildOperationRows', () => {
  it("takes each operation's whole-range values from the five families", () => {
    const rows = buildOperationRows({
      calls: summary('c', { 'GET /': 2, 'POST /pay': 0.5 }, 'web'),
      errors: summary('e', { 'GET /': 0, 'POST /pay': 0.1 }, 'web'),
      p50: summary('l', { 'GET /': 10, 'POST /pay': 'NaN' }, 'web'),
      p95: summary('l', { 'GET /': 20 }, 'web'),
      p99: summary('l', { 'GET /': 30, 'late op': 40 }, 'web'),
    });
    expect(rows).toEqual([
      { operation: 'GET /', rate: 2, errorRate: 0, p50: 10, p95: 20, p99: 30 },
      { operation: 'POST /pay', rate: 0.5, errorRate: 0.1, p50: NaN, p95: NaN, p99: NaN },
      { operation: 'late op', rate: NaN, errorRate: NaN, p50: NaN, p95: NaN, p99: 40 },
    ]);
  });
});

describe('sortRows', () => {
  const rows: OperationRow[] = [
    row('b', 1, 0.5),
    row('a', NaN, NaN),
    row('c', 3, 0),
    row('d', 1, 0.25),
  ];
  const names = (sorted: OperationRow[]) => sorted.map((r) => r.operation);

  it('sorts by rate, highest first, by default; ties by name', () => {
    expect(DEFAULT_SORT).toEqual({ key: 'rate', descending: true });
    expect(names(sortRows(rows, DEFAULT_SORT))).toEqual(['c', 'b', 'd', 'a']);
  });

  it('keeps rows without a value last in both directions', () => {
    expect(names(sortRows(rows, { key: 'rate', descending: false }))).toEqual(['b', 'd', 'c', 'a']);
    expect(names(sortRows(rows, { key: 'errorRate', descending: true }))).toEqual([
      'b',
      'd',
      'c',
      'a',
    ]);
  });

  it('sorts by operation name in code-point order', () => {
    const mixed = [row('b', 1), row('B', 1), row('a', 1)];
    const ascending = sortRows(mixed, { key: 'operation', descending: false });
    expect(names(ascending)).toEqual(['B', 'a', 'b']);
    const descending = sortRows(mixed, { key: 'operation', descending: true });
    expect(names(descending)).toEqual(['b', 'a', 'B']);
  });

  it('sorts by a latency quantile', () => {
    const byP99 = [row('x', 1, 0, 1, 1, 30), row('y', 1, 0, 1, 1, 500), row('z', 1, 0, 1, 1, 2)];
    expect(names(sortRows(byP99, { key: 'p99', descending: true }))).toEqual(['y', 'x', 'z']);
  });

  it('does not change its input', () => {
    sortRows(rows, DEFAULT_SORT);
    expect(names(rows)).toEqual(['b', 'a', 'c', 'd']);
  });
});

describe('toggleSort', () => {
  it('flips the direction of the same column', () => {
    expect(toggleSort({ key: 'p95', descending: true }, 'p95')).toEqual({
      key: 'p95',
      descending: false,
    });
    expect(toggleSort({ key: 'p95', descending: false }, 'p95')).toEqual({
      key: 'p95',
      descending: true,
    });
  });

  it('starts numbers highest first and names A to Z', () => {
    expect(toggleSort(DEFAULT_SORT, 'errorRate')).toEqual({ key: 'errorRate', descending: true });
    expect(toggleSort(DEFAULT_SORT, 'operation')).toEqual({ key: 'operation', descending: false });
  });
});

describe('hasCalls', () => {
  it('is true when some operation had a call', () => {
    expect(hasCalls([row('a', 0), row('b', NaN)])).toBe(false);
    expect(hasCalls([])).toBe(false);
    expect(hasCalls([row('a', 0), row('b', 0.001)])).toBe(true);
  });
});
