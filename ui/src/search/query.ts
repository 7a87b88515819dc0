// The search form's state, its deep-link URL (Jaeger's: search?service=..&operation=..
// &tags={..}&minDuration=..&maxDuration=..&lookback=..&start=..&end=..&limit=..) and the
// api/v3/trace-summaries parameters it becomes. Pure: no DOM, no fetch.

import { parseDurationNs } from '../format';

export interface Tag {
  key: string;
  value: string;
}

/**
 * The tags of a trace's sampling decision: always searchable (the server compares them with each
 * trace's decision), but not in the index, so the tag-keys API does not list them.
 */
export const SAMPLING_TAG_KEYS = ['sampling.policy', 'sampling.rate'];

/** The tag keys to suggest: the index's, then the sampling decision's, each once. */
export function tagKeySuggestions(indexed: string[]): string[] {
  return [...new Set([...indexed, ...SAMPLING_TAG_KEYS])];
}

/** `form` with the tag `key`=`value`, in place of any tag with that key. */
export function withTag(form: SearchForm, key: string, value: string): SearchForm {
  return { ...form, tags: [...form.tags.filter((t) => t.key !== key), { key, value }] };
}

/** The time-range presets, as Jaeger's `lookback` values. */
export const LOOKBACKS: { value: string; label: string; ms: number }[] = [
  { value: '5m', label: 'Last 5 minutes', ms: 5 * 60_000 },
  { value: '15m', label: 'Last 15 minutes', ms: 15 * 60_000 },
  { value: '1h', label: 'Last hour', ms: 3_600_000 },
  { value: '6h', label: 'Last 6 hours', ms: 6 * 3_600_000 },
  { value: '12h', label: 'Last 12 hours', ms: 12 * 3_600_000 },
  { value: '1d', label: 'Last 24 hours', ms: 86_400_000 },
  { value: '2d', label: 'Last 2 days', ms: 2 * 86_400_000 },
  { value: '7d', label: 'Last 7 days', ms: 7 * 86_400_000 },
];

export const DEFAULT_LOOKBACK = '1h';
export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 1500;

export interface SearchForm {
  service: string; // '' = any service
  operation: string; // '' = any operation
  tags: Tag[];
  minDuration: string; // as typed: '2s', '150ms', ''
  maxDuration: string;
  /** A LOOKBACKS value, or 'custom' for [startUs, endUs]. */
  lookback: string;
  startUs?: number;
  endUs?: number;
  limit: number;
}

export function emptyForm(): SearchForm {
  return {
    service: '',
    operation: '',
    tags: [],
    minDuration: '',
    maxDuration: '',
    lookback: DEFAULT_LOOKBACK,
    limit: DEFAULT_LIMIT,
  };
}

/** Reads a deep link. Unknown or malformed values fall back to the defaults. */
export function formFromParams(params: URLSearchParams): SearchForm {
  const form = emptyForm();
  form.service = params.get('service') ?? '';
  form.operation = params.get('operation') ?? '';
  form.tags = parseTagsParam(params.getAll('tags'));
  form.minDuration = params.get('minDuration') ?? '';
  form.maxDuration = params.get('maxDuration') ?? '';
  const start = Number(params.get('start'));
  const end = Number(params.get('end'));
  const lookback = params.get('lookback');
  if (lookback === 'custom' || (lookback === null && params.has('start'))) {
    if (Number.isFinite(start) && start > 0) form.startUs = start;
    if (Number.isFinite(end) && end > 0) form.endUs = end;
    form.lookback = 'custom';
  } else if (lookback && LOOKBACKS.some((l) => l.value === lookback)) {
    form.lookback = lookback;
  }
  const limit = Number(params.get('limit'));
  if (Number.isInteger(limit) && limit > 0) form.limit = Math.min(limit, MAX_LIMIT);
  return form;
}

/** Jaeger's `tags` parameter: JSON objects ({"error":"true"}); logfmt (`a=b c=d`) also read. */
export function parseTagsParam(values: string[]): Tag[] {
  const tags: Tag[] = [];
  for (const raw of values) {
    try {
      const obj: unknown = JSON.parse(raw);
      if (obj && typeof obj === 'object' && !Array.isArray(obj)) {
        for (const [key, value] of Object.entries(obj)) tags.push({ key, value: String(value) });
        continue;
      }
    } catch {
      // not JSON: logfmt below
    }
    for (const pair of raw.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0) tags.push({ key: pair.slice(0, eq), value: pair.slice(eq + 1) });
    }
  }
  return tags;
}

/** The deep link's query string of a form (what the URL bar shows after a search). */
export function formToParams(form: SearchForm): URLSearchParams {
  const p = new URLSearchParams();
  if (form.service) p.set('service', form.service);
  if (form.service && form.operation) p.set('operation', form.operation);
  if (form.tags.length > 0) p.set('tags', JSON.stringify(tagsObject(form.tags)));
  if (form.minDuration.trim()) p.set('minDuration', form.minDuration.trim());
  if (form.maxDuration.trim()) p.set('maxDuration', form.maxDuration.trim());
  p.set('lookback', form.lookback);
  if (form.lookback === 'custom') {
    if (form.startUs !== undefined) p.set('start', String(form.startUs));
    if (form.endUs !== undefined) p.set('end', String(form.endUs));
  }
  p.set('limit', String(form.limit));
  return p;
}

function tagsObject(tags: Tag[]): Record<string, string> {
  const obj: Record<string, string> = {};
  for (const t of tags) obj[t.key] = t.value;
  return obj;
}

/** The time window [startUs, endUs] a form searches, given the current time. */
export function timeWindowUs(form: SearchForm, nowMs: number): { startUs: number; endUs: number } {
  const endUs = form.lookback === 'custom' && form.endUs !== undefined ? form.endUs : nowMs * 1000;
  if (form.lookback === 'custom') {
    return { startUs: form.startUs ?? endUs - 2 * 86_400_000_000, endUs };
  }
  const preset = LOOKBACKS.find((l) => l.value === form.lookback) ?? LOOKBACKS[2];
  return { startUs: endUs - preset.ms * 1000, endUs };
}

/** What is wrong with a form, in words, or undefined when it can be searched. */
export function validateForm(form: SearchForm): string | undefined {
  for (const [name, text] of [
    ['Min duration', form.minDuration],
    ['Max duration', form.maxDuration],
  ] as const) {
    if (text.trim() && parseDurationNs(text) === undefined) {
      return `${name} “${text}” is not a duration: use a number and a unit, e.g. 2s, 150ms, 1.5m.`;
    }
  }
  const min = parseDurationNs(form.minDuration);
  const max = parseDurationNs(form.maxDuration);
  if (min !== undefined && max !== undefined && min > max) {
    return 'Min duration is longer than max duration.';
  }
  if (form.lookback === 'custom') {
    if (form.startUs === undefined || form.endUs === undefined) {
      return 'A custom time range needs both a start and an end.';
    }
    if (form.startUs > form.endUs) return 'The time range starts after it ends.';
  }
  for (const t of form.tags) {
    if (!t.key.trim()) return 'A tag needs a key.';
  }
  if (!Number.isInteger(form.limit) || form.limit < 1 || form.limit > MAX_LIMIT) {
    return `Limit must be a whole number from 1 to ${MAX_LIMIT}.`;
  }
  return undefined;
}

/** RFC 3339 with microseconds, UTC: what api/v3 takes for its time bounds. */
export function rfc3339FromUs(us: number): string {
  const ms = Math.floor(us / 1000);
  const micros = String(Math.round(us - ms * 1000)).padStart(3, '0');
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, `.$1${micros}Z`);
}

/** The api/v3/trace-summaries parameters of a valid form (validateForm said nothing). */
export function summariesParams(form: SearchForm, nowMs: number): URLSearchParams {
  const p = new URLSearchParams();
  if (form.service) p.set('query.service_name', form.service);
  if (form.service && form.operation) p.set('query.operation_name', form.operation);
  if (form.tags.length > 0) p.set('query.attributes', JSON.stringify(tagsObject(form.tags)));
  if (form.minDuration.trim()) p.set('query.duration_min', form.minDuration.trim());
  if (form.maxDuration.trim()) p.set('query.duration_max', form.maxDuration.trim());
  const { startUs, endUs } = timeWindowUs(form, nowMs);
  p.set('query.start_time_min', rfc3339FromUs(startUs));
  p.set('query.start_time_max', rfc3339FromUs(endUs));
  p.set('query.num_traces', String(form.limit));
  return p;
}
