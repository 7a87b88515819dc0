// Helpers for the search end-to-end tests: the checkout traces they search for, query-string
// building and the trace IDs of search answers (Jaeger /api/traces, OTLP-JSON /api/v3/traces and
// /api/v3/trace-summaries).

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

import { getJson, httpGet, truncate } from './daemon.mjs';

const MS = 1_000_000;

// The checkouts, oldest first (one second apart): who bought, how long inventory took, whether
// the checkout service failed.
export const CHECKOUTS = Object.freeze([
  { user: 'alice', inventoryMs: 50, failed: false },
  { user: 'bob', inventoryMs: 3_500, failed: false },
  { user: 'alice', inventoryMs: 120, failed: true },
  { user: 'carol', inventoryMs: 4_200, failed: false },
]);

// frontend GET /checkout (SERVER, user.id) -> checkout POST /api/checkout (SERVER, ERROR when
// failed) -> inventory GET /inventory/reserve (SERVER, inventoryMs long), on the tracers of
// `services` ({ frontend, checkout, inventory }: ServiceClients, named as the caller likes), the
// index-th checkout starting `index` seconds after the Timeline `t`'s base. Returns the trace ID.
export function buildSearchCheckout(services, t, index, { user, inventoryMs, failed }) {
  const child = (parent) => trace.setSpan(ROOT_CONTEXT, parent);
  const base = index * 1_000 * MS;
  const inventoryNs = inventoryMs * MS;
  const root = services.frontend.tracer.startSpan(
    'GET /checkout',
    { kind: SpanKind.SERVER, startTime: t.at(base), attributes: { 'user.id': user } },
    ROOT_CONTEXT,
  );
  const checkout = services.checkout.tracer.startSpan(
    'POST /api/checkout',
    { kind: SpanKind.SERVER, startTime: t.at(base + 1 * MS) },
    child(root),
  );
  const inventory = services.inventory.tracer.startSpan(
    'GET /inventory/reserve',
    { kind: SpanKind.SERVER, startTime: t.at(base + 2 * MS) },
    child(checkout),
  );
  inventory.end(t.at(base + 2 * MS + inventoryNs));
  if (failed) checkout.setStatus({ code: SpanStatusCode.ERROR, message: 'payment declined' });
  checkout.end(t.at(base + 3 * MS + inventoryNs));
  root.end(t.at(base + 4 * MS + inventoryNs));
  return root.spanContext().traceId;
}

// "/path?k=v&k=v" from an object; array values repeat the parameter.
export function withQuery(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    for (const one of Array.isArray(v) ? v : [v]) qs.append(k, String(one));
  }
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

// Jaeger GET /api/traces with `params`; resolves to { ids (traceID of each data entry, in
// order), traces, body }. Throws unless the answer is a 200 Jaeger envelope.
export async function jaegerSearch(daemon, params) {
  const body = await getJson(daemon.queryUrl(withQuery('/api/traces', params)));
  if (!Array.isArray(body.data)) {
    throw new Error(`/api/traces: no data array: ${truncate(JSON.stringify(body))}`);
  }
  if (body.total !== body.data.length) {
    throw new Error(`/api/traces: total ${body.total} != ${body.data.length} traces`);
  }
  return { ids: body.data.map((t) => t.traceID), traces: body.data, body };
}

// GET /api/v3/traces with `params`; resolves to the distinct trace IDs of the result's spans in
// order of appearance, and the body.
export async function v3Search(daemon, params) {
  const body = await getJson(daemon.queryUrl(withQuery('/api/v3/traces', params)));
  const ids = [];
  for (const rs of body?.result?.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        if (!ids.includes(span.traceId)) ids.push(span.traceId);
      }
    }
  }
  return { ids, body };
}

// GET /api/v3/trace-summaries with `params`; resolves to the summaries array.
export async function v3Summaries(daemon, params) {
  const body = await getJson(daemon.queryUrl(withQuery('/api/v3/trace-summaries', params)));
  if (!Array.isArray(body.summaries)) {
    throw new Error(`/api/v3/trace-summaries: no summaries: ${truncate(JSON.stringify(body))}`);
  }
  return body.summaries;
}

// GET url expecting a 400; resolves to the response ({ status, json, body }).
export async function expectBadRequest(url) {
  const r = await httpGet(url);
  if (r.status !== 400) {
    throw new Error(`GET ${url}: expected 400, got ${r.status}: ${truncate(r.body)}`);
  }
  return r;
}
