// The critical path: the chain of spans that determined how long the trace took.
//
// The walk starts at the model's root span (TraceModel.rootIndex: the longest span without a
// parent ID; other top-level spans are off the path). Inside a span it goes backwards in time from
// the span's end: the child that ends last is on the path from its end back to its start; then
// the child ending last among those that start before that point, for the part of it that the
// later sibling does not overlap; and so on, each child walked the same way inside its own part.
// Stretches of a span that no child on the path covers are the span's own time. Children are
// clipped to their parent; a child that starts after its parent ended (async work nobody waited
// for) is off the path. The segments partition the root span, so they add up to its duration.

import { formatDurationNs } from '../format';
import type { TraceModel } from './model';

export interface CriticalSegment {
  span: number;
  start: number;
  end: number;
}

export interface ServiceShare {
  service: string;
  duration: number;
  /** Percent of the path, rounded to a whole number. */
  percent: number;
}

export interface CriticalPath {
  /** By start time. */
  segments: CriticalSegment[];
  /** Per span index, that span's segments by start time (empty when it is off the path). */
  bySpan: CriticalSegment[][];
  /** The root span's duration: the segments' total. */
  total: number;
  /** Time on the path per service, the largest first (ties by name). */
  services: ServiceShare[];
}

/** One span being walked: its part of the path [lo, cursor) still to explain, its children. */
interface Frame {
  span: number;
  lo: number;
  cursor: number;
  children: number[];
  next: number;
}

export function computeCriticalPath(model: TraceModel): CriticalPath {
  const segments: CriticalSegment[] = [];
  if (model.rootIndex >= 0) walk(model, segments);
  segments.sort((a, b) => a.start - b.start || a.end - b.end);
  const bySpan: CriticalSegment[][] = model.spans.map(() => []);
  for (const seg of segments) bySpan[seg.span].push(seg);
  const total = totalTime(segments);
  return { segments, bySpan, total, services: serviceShares(model, segments, total) };
}

// Iterative, with an explicit stack of frames: a trace may nest thousands of levels deep.
function walk(model: TraceModel, out: CriticalSegment[]): void {
  const root = model.spans[model.rootIndex];
  const stack = [openFrame(model, root.index, root.start, root.end)];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1];
    const child = nextChild(model, frame);
    if (child === undefined) {
      if (frame.cursor > frame.lo) {
        out.push({ span: frame.span, start: frame.lo, end: frame.cursor });
      }
      stack.pop();
      continue;
    }
    if (child.end < frame.cursor) {
      out.push({ span: frame.span, start: child.end, end: frame.cursor });
    }
    frame.cursor = child.start;
    stack.push(openFrame(model, child.span, child.start, child.end));
  }
}

/** A span's frame for its part [lo, hi) of the path; its children by clipped end, latest first. */
function openFrame(model: TraceModel, span: number, lo: number, hi: number): Frame {
  const spans = model.spans;
  const clippedEnd = (c: number) => Math.min(spans[c].end, hi);
  const children = spans[span].children
    .filter((c) => spans[c].start < spans[span].end)
    .sort((a, b) => clippedEnd(b) - clippedEnd(a) || spans[a].start - spans[b].start || a - b);
  return { span, lo, cursor: hi, children, next: 0 };
}

/** The next child on the path: its part before the cursor that is inside the frame. */
function nextChild(model: TraceModel, frame: Frame): CriticalSegment | undefined {
  while (frame.next < frame.children.length && frame.cursor > frame.lo) {
    const c = model.spans[frame.children[frame.next++]];
    const start = Math.max(c.start, frame.lo);
    const end = Math.min(c.end, frame.cursor);
    if (end > start) return { span: c.index, start, end };
  }
  return undefined;
}

function serviceShares(
  model: TraceModel,
  segments: CriticalSegment[],
  total: number,
): ServiceShare[] {
  const byService = new Map<string, number>();
  for (const seg of segments) {
    const service = model.spans[seg.span].service;
    byService.set(service, (byService.get(service) ?? 0) + seg.end - seg.start);
  }
  return [...byService]
    .map(([service, duration]) => ({
      service,
      duration,
      percent: total > 0 ? Math.round((duration / total) * 100) : 0,
    }))
    .sort((a, b) => b.duration - a.duration || (a.service < b.service ? -1 : 1));
}

/** "2.8s in inventory (90%), 200ms in checkout (6%)": the path's time per service. */
export function criticalPathText(path: CriticalPath): string {
  return path.services.map(shareText).join(', ');
}

/** "2.8s in inventory (90%)" */
export function shareText(share: ServiceShare): string {
  return `${formatDurationNs(share.duration)} in ${share.service} (${share.percent}%)`;
}

/** The time of span `index` on the critical path. */
export function criticalTimeOf(path: CriticalPath, index: number): number {
  return totalTime(path.bySpan[index]);
}

export function totalTime(segments: CriticalSegment[]): number {
  return segments.reduce((sum, seg) => sum + seg.end - seg.start, 0);
}
