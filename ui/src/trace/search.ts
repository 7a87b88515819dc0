// Search within a trace: which spans match a text typed into the page's search box.

import type { TraceModel, TraceSpan } from './model';
import { anyValueText } from './values';

/**
 * Lower-case text of what a search looks at in each span (service, name, span ID, status message,
 * each attribute as key=value), one field a line so that a term cannot match across two fields.
 * Built once per trace, when the first search is typed.
 */
export function searchTexts(model: TraceModel): string[] {
  return model.spans.map(spanText);
}

function spanText(s: TraceSpan): string {
  const lines = [s.service, s.name, s.spanId, s.statusMessage];
  for (const a of s.attributes) lines.push(`${a.key}=${anyValueText(a.value)}`);
  return lines.join('\n').toLowerCase();
}

/**
 * The spans, in display order, whose text contains every whitespace-separated term of the query
 * (case-insensitive); none for an empty query.
 */
export function matchSpans(model: TraceModel, texts: string[], query: string): number[] {
  const terms = query
    .toLowerCase()
    .split(/\s+/)
    .filter((t) => t !== '');
  if (terms.length === 0) return [];
  return model.order.filter((i) => terms.every((t) => texts[i].includes(t)));
}

/** The match after (step 1) or before (step -1) `current`, wrapping around; 0 to start. */
export function stepMatch(count: number, current: number, step: 1 | -1): number {
  if (count === 0) return -1;
  if (current < 0) return step === 1 ? 0 : count - 1;
  return (current + step + count) % count;
}
