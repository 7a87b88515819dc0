// The flame graph's layout: an icicle over time. Each span is a frame as wide as its duration at
// its place on the time axis, one row below its parent. Siblings that overlap in time (parallel
// calls) cannot share a row, so a sibling and its whole subtree move down to the first rows that
// are free over the subtree's time span; sequential siblings stay side by side on one row.

import { fractionOf, type TimeWindow } from './layout';
import type { TraceModel } from './model';

export interface FlameFrame {
  span: number;
  row: number;
}

export interface FlameLayout {
  /** One per span, in display order (a parent before its children). */
  frames: FlameFrame[];
  rows: number;
}

/** A span's subtree as a box to pack: its time span and how many rows it needs. */
interface Box {
  start: number;
  end: number;
  height: number;
}

export function layoutFlame(model: TraceModel): FlameLayout {
  const { spans, order } = model;
  const boxes: Box[] = new Array(spans.length);
  const offset = new Int32Array(spans.length);
  // Children before parents: every child's box is known when its parent packs them.
  for (let p = order.length - 1; p >= 0; p--) {
    const s = spans[order[p]];
    const packed = packBoxes(s.children, boxes, offset);
    boxes[s.index] = {
      start: Math.min(s.start, packed.start),
      end: Math.max(s.end, packed.end),
      height: 1 + packed.height,
    };
  }
  const rows = packBoxes(model.roots, boxes, offset).height;
  const row = new Int32Array(spans.length);
  const frames: FlameFrame[] = [];
  for (const i of order) {
    const parent = spans[i].parent;
    row[i] = (parent < 0 ? 0 : row[parent] + 1) + offset[i];
    frames.push({ span: i, row: row[i] });
  }
  return { frames, rows };
}

/** Rows below a parent, top down, in runs of rows that are busy until the same time. */
interface Run {
  rows: number;
  busyUntil: number;
}

/**
 * Stacks sibling boxes, in order of their start, each on the first rows (counted from 0 below
 * the parent) that are free from the box's start on; writes each box's row into `offset` and
 * returns the box around all of them. Rows are kept in runs, so a tall subtree costs one run,
 * not one entry per row: a 10,000-level chain packs in linear time.
 */
function packBoxes(members: number[], boxes: Box[], offset: Int32Array): Box {
  const runs: Run[] = [];
  const sorted = [...members].sort((a, b) => boxes[a].start - boxes[b].start || a - b);
  let start = Infinity;
  let end = -Infinity;
  for (const m of sorted) {
    const box = boxes[m];
    // The lowest free place always starts at a run's first row: if rows inside a run are free,
    // the whole run is.
    let run = 0;
    let row = 0;
    while (run < runs.length && !fits(runs, run, box)) row += runs[run++].rows;
    occupy(runs, run, box);
    offset[m] = row;
    start = Math.min(start, box.start);
    end = Math.max(end, box.end);
  }
  return { start, end, height: runs.reduce((sum, r) => sum + r.rows, 0) };
}

/** Whether box.height rows from run `first` on are all free at box.start. */
function fits(runs: Run[], first: number, box: Box): boolean {
  let rows = 0;
  for (let r = first; r < runs.length && rows < box.height; r++) {
    if (runs[r].busyUntil > box.start) return false;
    rows += runs[r].rows;
  }
  return true;
}

/** Marks box.height rows from run `first` on busy until box.end, splitting the last run. */
function occupy(runs: Run[], first: number, box: Box): void {
  let left = box.height;
  let r = first;
  for (; r < runs.length && left > 0; r++) {
    if (runs[r].rows > left) {
      runs.splice(r + 1, 0, { rows: runs[r].rows - left, busyUntil: runs[r].busyUntil });
      runs[r].rows = left;
    }
    runs[r].busyUntil = box.end;
    left -= runs[r].rows;
  }
  if (left > 0) runs.push({ rows: left, busyUntil: box.end });
}

/** The frames of each row, by start time. */
export function framesByRow(model: TraceModel, layout: FlameLayout): FlameFrame[][] {
  const byRow: FlameFrame[][] = Array.from({ length: layout.rows }, () => []);
  for (const f of layout.frames) byRow[f.row].push(f);
  const start = (f: FlameFrame) => model.spans[f.span].start;
  for (const row of byRow) row.sort((a, b) => start(a) - start(b) || a.span - b.span);
  return byRow;
}

/** What the flame graph draws: a span's frame, or a cluster of spans too narrow to tell apart. */
export type FlameItem =
  | { kind: 'frame'; span: number; row: number }
  | { kind: 'cluster'; row: number; start: number; end: number; count: number };

/**
 * The items of some rows (each by start time) inside the zoom window, `widthPx` wide: frames at
 * least `minPx` wide as they are; runs of narrower frames with less than a pixel between them as
 * one cluster each (a lone narrow frame stays a frame). A 10,000-span trace then draws a few
 * hundred items, not thousands of sub-pixel slivers.
 */
export function flameItems(
  model: TraceModel,
  rows: FlameFrame[][],
  zoom: TimeWindow,
  widthPx: number,
  minPx: number,
): FlameItem[] {
  const items: FlameItem[] = [];
  const px = (t: number) => fractionOf(t, zoom) * widthPx;
  for (const row of rows) {
    let run: FlameFrame[] = [];
    let runEndPx = -Infinity;
    const flush = () => {
      if (run.length === 1) items.push({ kind: 'frame', span: run[0].span, row: run[0].row });
      if (run.length > 1) items.push(clusterOf(model, run));
      run = [];
      runEndPx = -Infinity;
    };
    for (const f of row) {
      const s = model.spans[f.span];
      if (s.end < zoom.start || s.start > zoom.end) continue;
      const narrow = px(s.end) - px(s.start) < minPx;
      if (!narrow || px(s.start) - runEndPx >= 1) flush();
      if (!narrow) {
        items.push({ kind: 'frame', span: f.span, row: f.row });
        continue;
      }
      run.push(f);
      runEndPx = Math.max(runEndPx, px(s.end));
    }
    flush();
  }
  return items;
}

function clusterOf(model: TraceModel, run: FlameFrame[]): FlameItem {
  let start = Infinity;
  let end = -Infinity;
  for (const f of run) {
    start = Math.min(start, model.spans[f.span].start);
    end = Math.max(end, model.spans[f.span].end);
  }
  return { kind: 'cluster', row: run[0].row, start, end, count: run.length };
}
