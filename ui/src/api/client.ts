// Calls to tailtraced's query API. Every URL is relative to the page's <base href>, so the UI
// works under any query.base_path. Every failure becomes an ApiError whose message says in words
// what went wrong: the API is unreachable, the trace is unknown, the query was refused and why.

import type {
  DependencyLink,
  MetricFamily,
  Operation,
  OtlpTraceResponse,
  TraceSummary,
} from './types';

export type ApiErrorKind = 'unreachable' | 'unauthorized' | 'not-found' | 'bad-request' | 'server';

export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly status = 0,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The message of a Jaeger ({errors:[{msg}]}) or api/v3 ({error:{message}}) error body. */
export function errorMessageOf(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as { errors?: { msg?: string }[]; error?: { message?: string } };
  return b.error?.message ?? b.errors?.find((e) => e.msg)?.msg;
}

/** Messages of members or peers that did not answer (a partial result). */
export function partialErrorsOf(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const b = body as { errors?: { msg?: string }[]; partialErrors?: { message?: string }[] };
  const out: string[] = [];
  for (const e of b.partialErrors ?? []) if (e.message) out.push(e.message);
  for (const e of b.errors ?? []) if (e.msg) out.push(e.msg);
  return out;
}

export function apiUrl(path: string, params?: URLSearchParams): string {
  const url = new URL(path, document.baseURI);
  if (params) url.search = params.toString();
  return url.toString();
}

// With query.auth on, the API needs a bearer token (the UI's own files do not): the user types it
// once per browser tab (ErrorMessage asks for it after a 401) and it is kept in sessionStorage.
const TOKEN_KEY = 'tailtrace.token';

export function setToken(token: string): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function authHeaders(): Record<string, string> {
  const token = typeof sessionStorage === 'undefined' ? null : sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

export async function getJson<T>(path: string, params?: URLSearchParams): Promise<T> {
  const url = apiUrl(path, params);
  let response: Response;
  try {
    response = await fetch(url, { headers: { Accept: 'application/json', ...authHeaders() } });
  } catch (e) {
    throw new ApiError(
      'unreachable',
      `The tailtrace API at ${new URL(url).origin} did not answer (${String(e)}). Is tailtraced running?`,
    );
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  if (response.ok) return body as T;
  const message = errorMessageOf(body);
  // A gateway (a reverse proxy, the dev server) answering for a daemon that is down.
  if (message === undefined && [500, 502, 503, 504].includes(response.status)) {
    throw new ApiError(
      'unreachable',
      `The tailtrace API behind ${new URL(url).origin} did not answer (HTTP ${response.status} ` +
        'from a proxy). Is tailtraced running?',
      response.status,
    );
  }
  return throwFor(response, message);
}

function throwFor(response: Response, message: string | undefined): never {
  if (response.status === 401) {
    throw new ApiError(
      'unauthorized',
      "The query API needs a bearer token (query.auth in the daemon's config).",
      401,
    );
  }
  const kind: ApiErrorKind =
    response.status === 404 ? 'not-found' : response.status < 500 ? 'bad-request' : 'server';
  throw new ApiError(kind, message ?? `${response.status} ${response.statusText}`, response.status);
}

export async function fetchServices(): Promise<string[]> {
  const body = await getJson<{ services?: string[] }>('api/v3/services');
  return body.services ?? [];
}

export async function fetchOperations(service: string): Promise<Operation[]> {
  const body = await getJson<{ operations?: Operation[] }>(
    'api/v3/operations',
    new URLSearchParams({ service }),
  );
  return body.operations ?? [];
}

export interface SummariesResult {
  summaries: TraceSummary[];
  partialErrors: string[];
}

/** GET api/v3/trace-summaries with its query.* parameters (search/query.ts builds them). */
export async function fetchSummaries(params: URLSearchParams): Promise<SummariesResult> {
  const body = await getJson<{ summaries?: TraceSummary[] }>('api/v3/trace-summaries', params);
  return { summaries: body.summaries ?? [], partialErrors: partialErrorsOf(body) };
}

export async function fetchTrace(traceId: string): Promise<OtlpTraceResponse> {
  try {
    return await getJson<OtlpTraceResponse>(`api/v3/traces/${encodeURIComponent(traceId)}`);
  } catch (e) {
    if (e instanceof ApiError && e.kind === 'not-found') {
      throw new ApiError('not-found', `No trace with ID ${traceId} is stored.`, 404);
    }
    throw e;
  }
}

export async function fetchDependencies(
  endTsMs: number,
  lookbackMs: number,
): Promise<DependencyLink[]> {
  const body = await getJson<{ data?: DependencyLink[] }>(
    'api/dependencies',
    new URLSearchParams({ endTs: String(endTsMs), lookback: String(lookbackMs) }),
  );
  return body.data ?? [];
}

/** GET api/metrics/{calls|errors|latencies}: Jaeger's SPM API. */
export async function fetchMetrics(
  name: 'calls' | 'errors' | 'latencies',
  params: URLSearchParams,
): Promise<MetricFamily> {
  return getJson<MetricFamily>(`api/metrics/${name}`, params);
}

/** Attribute keys the store indexed for `service` ('' = any), for the tag filter's suggestions. */
export async function fetchTagKeys(service: string): Promise<string[]> {
  const params = new URLSearchParams();
  if (service) params.set('service', service);
  const body = await getJson<{ tagKeys?: string[] }>('api/v3/tag-keys', params);
  return body.tagKeys ?? [];
}

/** Values the store indexed for attribute `key` (of `service`; '' = any). */
export async function fetchTagValues(service: string, key: string): Promise<string[]> {
  const params = new URLSearchParams({ key });
  if (service) params.set('service', service);
  const body = await getJson<{ tagValues?: string[] }>('api/v3/tag-values', params);
  return body.tagValues ?? [];
}
