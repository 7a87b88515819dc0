// RED numbers (rate, errors, duration): conversions of the SPM API's values and their text.

import { formatDurationNs } from '../format';

const NO_VALUE = '–';

/**
 * The calls of a window from its rate: the API's `calls` are calls in the window divided by the
 * window (ratePer) in seconds. Rounded, since a count is whole (the division is not exact).
 */
export function callsInWindow(ratePerSecond: number, windowMs: number): number {
  return Math.round((ratePerSecond * windowMs) / 1000);
}

/** An error fraction in [0, 1] (the API's `errors`) as a percentage. */
export function toPercent(fraction: number): number {
  return fraction * 100;
}

/** At most three significant digits, no exponent, no trailing zeros: 0.00167, 12.3, 1230. */
export function threeDigits(v: number): string {
  return String(Number(v.toPrecision(3)));
}

/** "12.3/s"; "–" for NaN (no value: the series did not exist yet). */
export function formatRate(perSecond: number): string {
  return Number.isFinite(perSecond) ? `${threeDigits(perSecond)}/s` : NO_VALUE;
}

/** "4.17%" from a fraction; "–" for NaN (a window without calls has no error rate). */
export function formatErrorRate(fraction: number): string {
  return Number.isFinite(fraction) ? `${threeDigits(toPercent(fraction))}%` : NO_VALUE;
}

/** "3.42ms", "1.2s" from the API's milliseconds; "–" for NaN (no call in the window). */
export function formatLatencyMs(ms: number): string {
  if (!Number.isFinite(ms)) return NO_VALUE;
  // formatDurationNs would say "0ns": a chart axis's zero reads better in the charts' unit.
  return ms === 0 ? '0ms' : formatDurationNs(ms * 1e6);
}

/** "1,520 calls", "1 call". */
export function formatCalls(calls: number): string {
  return `${calls.toLocaleString('en-US')} ${calls === 1 ? 'call' : 'calls'}`;
}
