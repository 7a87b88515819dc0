// The trace page's URL: trace/{traceId}?view=waterfall|flame|json&span={spanId}. The view and the
// selected span live in the URL (the only copy of them), so any state of the page is a link.

export type TraceViewName = 'waterfall' | 'flame' | 'json';

const VIEWS: readonly TraceViewName[] = ['waterfall', 'flame', 'json'];

/** 1 to 32 hex digits: what a trace ID may be. */
export function isTraceId(text: string): boolean {
  return /^[0-9a-fA-F]{1,32}$/.test(text);
}

export function viewOf(params: URLSearchParams): TraceViewName {
  const view = params.get('view');
  return VIEWS.find((v) => v === view) ?? 'waterfall';
}

/** The page's href with some parameters set (undefined or '' removes one); others are kept. */
export function traceHref(
  traceId: string,
  params: URLSearchParams,
  changes: { view?: TraceViewName; span?: string },
): string {
  const next = new URLSearchParams(params);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined || value === '' || (key === 'view' && value === 'waterfall')) {
      next.delete(key);
    } else {
      next.set(key, value);
    }
  }
  const query = next.toString();
  return `trace/${encodeURIComponent(traceId)}${query ? `?${query}` : ''}`;
}
