import { describe, expect, it } from 'vitest';
import {
  findSeries,
  isolatedIndices,
  lastValues,
  pointValue,
  toChartData,
} from '../src/services/series';
import { family, series } from './services_fixtures';

const T0 = '2024-05-01T10:00:00Z';
const T1 = '2024-05-01T10:01:00Z';
const T2 = '2024-05-01T10:02:00Z';
const S0 = Date.parse(T0) / 1000;

describe('pointValue', () => {
  it('reads numbers, the string "NaN", and a missing value as NaN', () => {
    expect(pointValue({ gaugeValue: { doubleValue: 0.25 }, timestamp: T0 })).toBe(0.25);
    expect(pointValue({ gaugeValue: { doubleValue: 0 }, timestamp: T0 })).toBe(0);
    expect(pointValue({ gaugeValue: { doubleValue: 'NaN' }, timestamp: T0 })).toBeNaN();
    expect(pointValue({ gaugeValue: {}, timestamp: T0 })).toBeNaN();
    expect(pointValue({ timestamp: T0 })).toBeNaN();
  });
});

describe('findSeries and lastValues', () => {
  const f = family('service_operation_call_rate', [
    series(
      'cart',
      [
        [T0, 1],
        [T1, 2],
      ],
      'GET /cart',
    ),
    series(
      'cart',
      [
        [T0, 3],
        [T1, 'NaN'],
      ],
      'POST /cart',
    ),
    series('pay', [[T0, 5]], 'charge'),
  ]);

  it('finds a series by service and operation', () => {
    expect(findSeries(f, 'cart', 'POST /cart')).toBe(f.metrics[1]);
    expect(findSeries(f, 'cart')).toBe(f.metrics[0]);
    expect(findSeries(f, 'cart', 'charge')).toBeUndefined();
    expect(findSeries(f, 'nope')).toBeUndefined();
  });

  it("keys each series' last value by a label", () => {
    const byOperation = lastValues(f, 'operation');
    expect([...byOperation.keys()]).toEqual(['GET /cart', 'POST /cart', 'charge']);
    expect(byOperation.get('GET /cart')).toBe(2);
    expect(byOperation.get('POST /cart')).toBeNaN();
    expect(byOperation.get('charge')).toBe(5);
  });

  it('skips series without the label or without points', () => {
    const g = family('x', [series('a', []), series('b', [[T0, 1]])]);
    expect([...lastValues(g, 'service_name')]).toEqual([['b', 1]]);
    expect(lastValues(g, 'operation').size).toBe(0);
  });
});

describe('toChartData', () => {
  it('gives x in Unix seconds and null for NaN points', () => {
    const data = toChartData([
      series('a', [
        [T0, 'NaN'],
        [T1, 0.5],
        [T2, 0],
      ]),
    ]);
    expect(data).toEqual({ xs: [S0, S0 + 60, S0 + 120], ys: [[null, 0.5, 0]] });
  });

  it('aligns series on the union of their times, oldest first, gaps where one lacks a time', () => {
    const data = toChartData([
      series('a', [
        [T2, 3],
        [T0, 1],
      ]),
      undefined,
      series('a', [[T1, 2]]),
    ]);
    expect(data).toEqual({
      xs: [S0, S0 + 60, S0 + 120],
      ys: [
        [1, null, 3],
        [null, null, null],
        [null, 2, null],
      ],
    });
  });

  it('scales values and keeps milliseconds of timestamps', () => {
    const data = toChartData([series('a', [['2024-05-01T10:00:00.250Z', 0.125]])], 100);
    expect(data).toEqual({ xs: [S0 + 0.25], ys: [[12.5]] });
  });

  it('skips points whose timestamp cannot be read', () => {
    expect(
      toChartData([
        series('a', [
          ['yesterday', 1],
          [T0, 2],
        ]),
      ]),
    ).toEqual({
      xs: [S0],
      ys: [[2]],
    });
  });
});

describe('isolatedIndices', () => {
  it('finds values with no neighbour to draw a line to', () => {
    expect(isolatedIndices([null, 1, null, 2, 3, null, 0])).toEqual([1, 6]);
    expect(isolatedIndices([4])).toEqual([0]);
    expect(isolatedIndices([1, 2])).toEqual([]);
    expect(isolatedIndices([null, null])).toEqual([]);
  });
});
