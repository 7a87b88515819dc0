// The per-operation table: one row per operation of a service from whole-range summary queries
// with groupByOperation=true (range.ts summaryWindow), and its sorting.

import { compareText } from './compare';
import { OPERATION_LABEL, type RedFamilies, lastValues } from './series';

export interface OperationRow {
  operation: string;
  /** Calls per second over the range. */
  rate: number;
  /** Errors / calls in [0, 1]. */
  errorRate: number;
  /** Latency quantiles in milliseconds. */
  p50: number;
  p95: number;
  p99: number;
}

export type SortKey = keyof OperationRow;

export interface SortState {
  key: SortKey;
  descending: boolean;
}

/** The busiest operations first. */
export const DEFAULT_SORT: SortState = { key: 'rate', descending: true };

/** One row per operation found in any family; a value a family lacks is NaN. */
export function buildOperationRows(families: RedFamilies): OperationRow[] {
  const rate = lastValues(families.calls, OPERATION_LABEL);
  const errorRate = lastValues(families.errors, OPERATION_LABEL);
  const p50 = lastValues(families.p50, OPERATION_LABEL);
  const p95 = lastValues(families.p95, OPERATION_LABEL);
  const p99 = lastValues(families.p99, OPERATION_LABEL);
  const operations = new Set([rate, errorRate, p50, p95, p99].flatMap((m) => [...m.keys()]));
  return [...operations].map((operation) => ({
    operation,
    rate: rate.get(operation) ?? NaN,
    errorRate: errorRate.get(operation) ?? NaN,
    p50: p50.get(operation) ?? NaN,
    p95: p95.get(operation) ?? NaN,
    p99: p99.get(operation) ?? NaN,
  }));
}

/**
 * `rows` sorted by `sort.key`. Rows without a value (NaN) go last in either direction, since
 * "no value" is neither high nor low; ties are broken by operation name, ascending.
 */
export function sortRows(rows: readonly OperationRow[], sort: SortState): OperationRow[] {
  const sign = sort.descending ? -1 : 1;
  return [...rows].sort((a, b) => {
    const byKey = compareValues(a[sort.key], b[sort.key], sign);
    return byKey || compareText(a.operation, b.operation);
  });
}

function compareValues(a: string | number, b: string | number, sign: number): number {
  if (typeof a === 'string' || typeof b === 'string') {
    return sign * compareText(String(a), String(b));
  }
  const aMissing = Number.isNaN(a);
  const bMissing = Number.isNaN(b);
  if (aMissing || bMissing) return Number(aMissing) - Number(bMissing);
  return sign * (a - b);
}

/**
 * The sort after a click on `key`'s header: the same column flips its direction; another one
 * starts with the operation name A→Z and numbers highest first (what one looks for).
 */
export function toggleSort(current: SortState, key: SortKey): SortState {
  if (current.key === key) return { key, descending: !current.descending };
  return { key, descending: key !== 'operation' };
}

/** True when some operation had a call in the range. */
export function hasCalls(rows: readonly OperationRow[]): boolean {
  return rows.some((r) => r.rate > 0);
}
