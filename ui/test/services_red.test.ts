import { describe, expect, it } from 'vitest';
import {
  callsInWindow,
  formatCalls,
  formatErrorRate,
  formatLatencyMs,
  formatRate,
  threeDigits,
  toPercent,
} from '../src/services/red';

describe('callsInWindow', () => {
  it('turns a per-second rate over a window back into a whole count', () => {
    expect(callsInWindow(0.5, 3_600_000)).toBe(1800);
    // 7 calls in 15 minutes: 7 / 900 is not exact in binary.
    expect(callsInWindow(7 / 900, 900_000)).toBe(7);
    expect(callsInWindow(0, 60_000)).toBe(0);
  });
});

describe('percent and digits', () => {
  it('converts a fraction to percent', () => {
    expect(toPercent(0.25)).toBe(25);
    expect(toPercent(0)).toBe(0);
  });

  it('keeps three significant digits without an exponent', () => {
    expect(threeDigits(0.001666)).toBe('0.00167');
    expect(threeDigits(12.345)).toBe('12.3');
    expect(threeDigits(1234.5)).toBe('1230');
    expect(threeDigits(2)).toBe('2');
    expect(threeDigits(0)).toBe('0');
  });
});

describe('formatting', () => {
  it('formats rates per second', () => {
    expect(formatRate(0.5)).toBe('0.5/s');
    expect(formatRate(1 / 3)).toBe('0.333/s');
    expect(formatRate(0)).toBe('0/s');
    expect(formatRate(NaN)).toBe('–');
  });

  it('formats error fractions as percent', () => {
    expect(formatErrorRate(0.04166)).toBe('4.17%');
    expect(formatErrorRate(1)).toBe('100%');
    expect(formatErrorRate(0)).toBe('0%');
    expect(formatErrorRate(NaN)).toBe('–');
  });

  it('formats latencies given in milliseconds', () => {
    expect(formatLatencyMs(3.42)).toBe('3.42ms');
    expect(formatLatencyMs(0.5)).toBe('500µs');
    expect(formatLatencyMs(2500)).toBe('2.5s');
    expect(formatLatencyMs(0)).toBe('0ms');
    expect(formatLatencyMs(NaN)).toBe('–');
  });

  it('formats call counts with grouping and a singular', () => {
    expect(formatCalls(1520)).toBe('1,520 calls');
    expect(formatCalls(1)).toBe('1 call');
    expect(formatCalls(0)).toBe('0 calls');
  });
});
