import { describe, expect, it } from 'vitest';
import {
  TIME_RANGES,
  chartWindow,
  durationWords,
  rangeOf,
  summaryWindow,
} from '../src/services/range';

describe('rangeOf', () => {
  it('finds each range by its URL key', () => {
    for (const r of TIME_RANGES) expect(rangeOf(r.key)).toBe(r);
    expect(TIME_RANGES.map((r) => r.key)).toEqual(['15m', '1h', '6h', '24h', '7d']);
  });

  it('falls back to the last hour for a missing or unknown key', () => {
    expect(rangeOf(null).key).toBe('1h');
    expect(rangeOf(undefined).key).toBe('1h');
    expect(rangeOf('2h').key).toBe('1h');
    expect(rangeOf('1h').phrase).toBe('the last hour');
  });

  it('gives every range 60 to 168 chart points and a window of at least a minute', () => {
    const points = TIME_RANGES.map((r) => r.lookbackMs / r.stepMs);
    expect(points).toEqual([60, 60, 72, 96, 168]);
    expect(TIME_RANGES.map((r) => r.ratePerMs)).toEqual([
      60_000, 60_000, 300_000, 900_000, 3_600_000,
    ]);
  });
});

describe('chartWindow', () => {
  it('uses the range step and window', () => {
    expect(chartWindow(rangeOf('15m'), 1_700_000_000_000, 1)).toEqual({
      endTsMs: 1_700_000_000_000,
      lookbackMs: 900_000,
      stepMs: 15_000,
      ratePerMs: 60_000,
    });
  });

  it('never steps below the API minimum, and the window is never shorter than the step', () => {
    expect(chartWindow(rangeOf('15m'), 5, 120_000)).toEqual({
      endTsMs: 5,
      lookbackMs: 900_000,
      stepMs: 120_000,
      ratePerMs: 120_000,
    });
  });
});

describe('summaryWindow', () => {
  it('is one step and one window the length of the range', () => {
    expect(summaryWindow(rangeOf('6h'), 42)).toEqual({
      endTsMs: 42,
      lookbackMs: 21_600_000,
      stepMs: 21_600_000,
      ratePerMs: 21_600_000,
    });
  });
});

describe('durationWords', () => {
  it('names the largest unit that divides the duration', () => {
    expect(durationWords(60_000)).toBe('minute');
    expect(durationWords(300_000)).toBe('5 minutes');
    expect(durationWords(3_600_000)).toBe('hour');
    expect(durationWords(90_000)).toBe('90 seconds');
    expect(durationWords(129_600_000)).toBe('36 hours');
    expect(durationWords(604_800_000)).toBe('week');
    expect(durationWords(250)).toBe('250 ms');
  });
});
