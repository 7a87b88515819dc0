// The state of a loaded trace's page and what changes it. The view and the selected span live in
// the URL (url.ts): selecting navigates, replacing the history entry; switching views pushes one.
// Zoom, collapsed spans and the search are page state.

import { useMemo, useRef, useState } from 'preact/hooks';
import { navigate } from '../router';
import { collapseAll, revealed, toggled, visibleSpans } from './collapse';
import { computeCriticalPath, type CriticalPath } from './critical_path';
import { fullWindow, timeTicks, type Tick, type TimeWindow } from './layout';
import type { TraceModel } from './model';
import { matchSpans, searchTexts, stepMatch } from './search';
import { traceHref, viewOf, type TraceViewName } from './url';
import type { RevealRequest } from './Waterfall';

const MAX_TICKS = 8;

export interface TraceSearchState {
  query: string;
  setQuery: (query: string) => void;
  /** Matching spans in display order. */
  matches: number[];
  /** The same as a set; undefined when nothing is searched. */
  matchSet: ReadonlySet<number> | undefined;
  /** Which match is selected, -1 for none. */
  current: number;
  step: (direction: 1 | -1) => void;
}

export interface TracePageState {
  view: TraceViewName;
  /** The selected span's index, -1 for none. */
  selected: number;
  path: CriticalPath;
  full: TimeWindow;
  zoom: TimeWindow;
  setZoom: (zoom: TimeWindow) => void;
  ticks: Tick[];
  collapsed: ReadonlySet<number>;
  /** The waterfall's rows: span indexes without collapsed subtrees. */
  rows: number[];
  reveal: RevealRequest | undefined;
  search: TraceSearchState;
  select: (span: number) => void;
  /** Selects a span and brings it into view, expanding its ancestors. */
  show: (span: number) => void;
  switchView: (view: TraceViewName) => void;
  toggle: (span: number) => void;
  collapseAll: () => void;
  expandAll: () => void;
}

/** `traceId` as the URL spells it, so that the page's own links keep it. */
export function useTracePage(
  model: TraceModel,
  traceId: string,
  params: URLSearchParams,
): TracePageState {
  const view = viewOf(params);
  const selected = model.bySpanId.get(params.get('span') ?? '') ?? -1;
  const path = useMemo(() => computeCriticalPath(model), [model]);
  const full = useMemo(() => fullWindow(model), [model]);
  const [zoom, setZoom] = useState<TimeWindow>(full);
  const ticks = useMemo(() => timeTicks(zoom, MAX_TICKS), [zoom]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<number>>(() => new Set());
  const rows = useMemo(() => visibleSpans(model, collapsed), [model, collapsed]);
  // A span selected by the URL is scrolled to when the page opens.
  const [reveal, setReveal] = useState<RevealRequest | undefined>(
    selected >= 0 ? { span: selected, seq: 0 } : undefined,
  );
  const requestReveal = (span: number) => setReveal((r) => ({ span, seq: (r?.seq ?? 0) + 1 }));

  const select = (span: number) => {
    const spanId = span >= 0 ? model.spans[span].spanId : undefined;
    navigate(traceHref(traceId, params, { span: spanId }), true);
  };
  const show = (span: number) => {
    setCollapsed((c) => revealed(model, c, span));
    requestReveal(span);
    select(span);
  };
  const switchView = (next: TraceViewName) => {
    // The waterfall opens at the span selected in another view.
    if (selected >= 0) requestReveal(selected);
    navigate(traceHref(traceId, params, { view: next }));
  };
  return {
    view,
    selected,
    path,
    full,
    zoom,
    setZoom,
    ticks,
    collapsed,
    rows,
    reveal,
    search: useTraceSearch(model, selected, show),
    select,
    show,
    switchView,
    toggle: (span) => setCollapsed((c) => toggled(c, span)),
    collapseAll: () => setCollapsed(collapseAll(model)),
    expandAll: () => setCollapsed(new Set()),
  };
}

/** The search and its matches; the spans' search texts are built on the first search. */
function useTraceSearch(
  model: TraceModel,
  selected: number,
  show: (span: number) => void,
): TraceSearchState {
  const [query, setQuery] = useState('');
  const texts = useRef<string[] | undefined>(undefined);
  const active = query.trim() !== '';
  const matches = useMemo(() => {
    if (!active) return [];
    texts.current ??= searchTexts(model);
    return matchSpans(model, texts.current, query);
  }, [model, query, active]);
  const matchSet = useMemo(() => (active ? new Set(matches) : undefined), [matches, active]);
  const current = matches.indexOf(selected);
  const step = (direction: 1 | -1) => {
    const k = stepMatch(matches.length, current, direction);
    if (k >= 0) show(matches[k]);
  };
  return { query, setQuery, matches, matchSet, current, step };
}
