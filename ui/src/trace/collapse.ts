// The waterfall's rows: the display order minus the subtrees of collapsed spans.

import { ancestorsOf, type TraceModel } from './model';

/** Span indexes of the rows, top to bottom. O(rows): a collapsed subtree is skipped in one step. */
export function visibleSpans(model: TraceModel, collapsed: ReadonlySet<number>): number[] {
  const rows: number[] = [];
  for (let p = 0; p < model.order.length;) {
    const i = model.order[p];
    rows.push(i);
    p += collapsed.has(i) ? model.spans[i].descendants + 1 : 1;
  }
  return rows;
}

/** Every span with children collapsed: only the top-level spans remain. */
export function collapseAll(model: TraceModel): Set<number> {
  return new Set(model.spans.filter((s) => s.children.length > 0).map((s) => s.index));
}

export function toggled(collapsed: ReadonlySet<number>, index: number): Set<number> {
  const next = new Set(collapsed);
  if (!next.delete(index)) next.add(index);
  return next;
}

/** `collapsed` with span `index`'s ancestors expanded (the same set when they already are). */
export function revealed(
  model: TraceModel,
  collapsed: ReadonlySet<number>,
  index: number,
): ReadonlySet<number> {
  const hidden = ancestorsOf(model, index).filter((a) => collapsed.has(a));
  if (hidden.length === 0) return collapsed;
  const next = new Set(collapsed);
  for (const a of hidden) next.delete(a);
  return next;
}
