// The time ranges of the services page and the query windows each one asks the API for.

export type RangeKey = '15m' | '1h' | '6h' | '24h' | '7d';

export interface TimeRange {
  key: RangeKey;
  /** What the selector shows. */
  label: string;
  /** Completes "No calls recorded in …". */
  phrase: string;
  /** Length of the range: the `lookback` of every query. */
  lookbackMs: number;
  /** Time between chart points (60 to 168 points per chart). */
  stepMs: number;
  /**
   * The window each chart point counts (`ratePer`). The store keeps span metrics in slots of
   * `metrics.resolution` (1 minute by default) and counts a slot whole at its start, so a window
   * shorter than a minute would read most points as 0; from the 1 h range on it equals the step,
   * so that each point shows its own step's traffic and none is counted twice.
   */
  ratePerMs: number;
}

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

export const TIME_RANGES: readonly TimeRange[] = [
  range('15m', 'Last 15 minutes', 'the last 15 minutes', 15 * MINUTE, 15 * SECOND, MINUTE),
  range('1h', 'Last hour', 'the last hour', HOUR, MINUTE, MINUTE),
  range('6h', 'Last 6 hours', 'the last 6 hours', 6 * HOUR, 5 * MINUTE, 5 * MINUTE),
  range('24h', 'Last 24 hours', 'the last 24 hours', 24 * HOUR, 15 * MINUTE, 15 * MINUTE),
  range('7d', 'Last 7 days', 'the last 7 days', 7 * 24 * HOUR, HOUR, HOUR),
];

export const DEFAULT_RANGE_KEY: RangeKey = '1h';

function range(
  key: RangeKey,
  label: string,
  phrase: string,
  lookbackMs: number,
  stepMs: number,
  ratePerMs: number,
): TimeRange {
  return { key, label, phrase, lookbackMs, stepMs, ratePerMs };
}

/** The range of a `range=` URL parameter; the default (1 h) when it is missing or unknown. */
export function rangeOf(key: string | null | undefined): TimeRange {
  const found = TIME_RANGES.find((r) => r.key === key);
  return found ?? (TIME_RANGES.find((r) => r.key === DEFAULT_RANGE_KEY) as TimeRange);
}

/** The parameters of one SPM query (api/metrics/*), all in milliseconds. */
export interface MetricsWindow {
  endTsMs: number;
  lookbackMs: number;
  stepMs: number;
  ratePerMs: number;
}

/**
 * The window of the charts: one point every step. `minStepMs` is what api/metrics/minstep
 * answered; a step below it would be refused.
 */
export function chartWindow(r: TimeRange, endTsMs: number, minStepMs: number): MetricsWindow {
  const stepMs = Math.max(r.stepMs, minStepMs);
  return { endTsMs, lookbackMs: r.lookbackMs, stepMs, ratePerMs: Math.max(r.ratePerMs, stepMs) };
}

/**
 * The window of a whole-range summary: step = ratePer = lookback gives points at the range's
 * start and end, and the one at the end counts exactly the range [endTs - lookback, endTs) — its
 * rate, its error fraction and its latency quantiles over every call in it (rather than an
 * average of per-step quantiles, which is not a quantile).
 */
export function summaryWindow(r: TimeRange, endTsMs: number): MetricsWindow {
  return { endTsMs, lookbackMs: r.lookbackMs, stepMs: r.lookbackMs, ratePerMs: r.lookbackMs };
}

const UNITS: readonly [ms: number, singular: string][] = [
  [7 * 24 * HOUR, 'week'],
  [24 * HOUR, 'day'],
  [HOUR, 'hour'],
  [MINUTE, 'minute'],
  [SECOND, 'second'],
];

/**
 * A duration in words to follow "the": "minute", "5 minutes", "hour", "36 hours" (the largest
 * unit that divides it; "250 ms" below a second).
 */
export function durationWords(ms: number): string {
  const unit = UNITS.find(([size]) => ms >= size && ms % size === 0);
  if (!unit) return `${ms} ms`;
  const count = ms / unit[0];
  return count === 1 ? unit[1] : `${count} ${unit[1]}s`;
}
