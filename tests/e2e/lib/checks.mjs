// Comparing what the daemon's query APIs return with the spans the SDK produced (expected-span
// records from sdk.mjs toExpectedSpan). Every mismatch names the span, the field, what was
// expected and what came back.

import assert from 'node:assert/strict';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { nsToUs } from './sdk.mjs';

// Jaeger "span.kind" tag value per @opentelemetry/api SpanKind.
const JAEGER_KIND = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

function spanLabel(e) {
  return `span "${e.name}" (${e.serviceName}, spanID ${e.spanId})`;
}

const show = (v) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? `${x}n` : x));

// ---------------------------------------------------------------------------------------------
// Jaeger JSON (/api/traces/{id})

// The Jaeger tag {type, value} an attribute value maps to. Arrays have no Jaeger type: like the
// OpenTelemetry Collector's Jaeger translator, they are expected as a string holding JSON.
export function jaegerTagFor(value) {
  if (typeof value === 'string') return { type: 'string', value };
  if (typeof value === 'boolean') return { type: 'bool', value };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { type: 'int64', value } : { type: 'float64', value };
  }
  if (Array.isArray(value)) return { type: 'string', json: value };
  throw new Error(`no Jaeger mapping for attribute value ${show(value)}`);
}

// Asserts that `tags` (Jaeger [{key,type,value}]) hold `key` exactly once with `value`'s mapping.
function assertTag(tags, key, value, where) {
  const found = tags.filter((t) => t.key === key);
  assert.equal(
    found.length,
    1,
    `${where}: expected exactly one tag "${key}" = ${show(value)}, got ${found.length}: ${show(found)}`,
  );
  const got = found[0];
  const want = jaegerTagFor(value);
  assert.equal(got.type, want.type, `${where}: tag "${key}" type: expected "${want.type}", got ${show(got)}`);
  if ('json' in want) {
    let parsed;
    try {
      parsed = JSON.parse(got.value);
    } catch {
      assert.fail(`${where}: tag "${key}" should hold the JSON array ${show(want.json)}, got ${show(got)}`);
    }
    assert.deepEqual(parsed, want.json, `${where}: tag "${key}" array value: got ${show(got)}`);
  } else {
    assert.deepEqual(
      got.value,
      want.value,
      `${where}: tag "${key}" value: expected ${show(want.value)}, got ${show(got)}`,
    );
  }
}

function assertNoTag(tags, key, where) {
  const found = tags.filter((t) => t.key === key);
  assert.equal(found.length, 0, `${where}: expected no tag "${key}", got ${show(found)}`);
}

function assertMicros(got, wantUs, what) {
  assert.equal(typeof got, 'number', `${what}: expected a number of microseconds, got ${show(got)}`);
  assert.ok(Math.abs(got - wantUs) <= 1, `${what}: expected ${wantUs} µs (±1), got ${got}`);
}

const refKey = (r) => `${r.refType} ${r.traceID} ${r.spanID}`;

// Checks one Jaeger span against its expected record.
export function checkJaegerSpan(span, processes, e) {
  const where = `/api/traces ${spanLabel(e)}`;
  assert.equal(span.traceID, e.traceId, `${where}: traceID`);
  assert.equal(span.spanID, e.spanId, `${where}: spanID`);
  assert.equal(span.operationName, e.name, `${where}: operationName`);

  const wantRefs = [];
  if (e.parentSpanId) {
    wantRefs.push({ refType: 'CHILD_OF', traceID: e.parentTraceId, spanID: e.parentSpanId });
  }
  for (const l of e.links) wantRefs.push({ refType: 'FOLLOWS_FROM', traceID: l.traceId, spanID: l.spanId });
  const gotRefs = (span.references ?? []).map((r) => ({
    refType: r.refType,
    traceID: r.traceID,
    spanID: r.spanID,
  }));
  assert.deepEqual(
    gotRefs.map(refKey).sort(),
    wantRefs.map(refKey).sort(),
    `${where}: references: expected ${show(wantRefs)}, got ${show(span.references)}`,
  );

  assertMicros(span.startTime, nsToUs(e.startNs), `${where}: startTime`);
  assertMicros(span.duration, nsToUs(e.endNs - e.startNs), `${where}: duration`);

  const tags = span.tags ?? [];
  assert.ok(Array.isArray(tags), `${where}: tags must be an array, got ${show(span.tags)}`);
  for (const [k, v] of Object.entries(e.attributes)) assertTag(tags, k, v, where);
  assertTag(tags, 'span.kind', JAEGER_KIND[e.kind], where);
  switch (e.status.code) {
    case SpanStatusCode.ERROR:
      assertTag(tags, 'otel.status_code', 'ERROR', where);
      assertTag(tags, 'otel.status_description', e.status.message, where);
      assertTag(tags, 'error', true, where);
      break;
    case SpanStatusCode.OK:
      assertTag(tags, 'otel.status_code', 'OK', where);
      assertNoTag(tags, 'error', where);
      break;
    default:
      assertNoTag(tags, 'otel.status_code', where);
      assertNoTag(tags, 'error', where);
  }

  const logs = span.logs ?? [];
  assert.equal(
    logs.length,
    e.events.length,
    `${where}: expected ${e.events.length} logs (one per event ` +
      `${show(e.events.map((x) => x.name))}), got ${show(logs)}`,
  );
  const sortedLogs = [...logs].sort((a, b) => a.timestamp - b.timestamp);
  e.events.forEach((ev, i) => {
    const log = sortedLogs[i];
    const lw = `${where}: log for event "${ev.name}"`;
    assertMicros(log.timestamp, nsToUs(ev.timeNs), `${lw} timestamp`);
    assertTag(log.fields ?? [], 'event', ev.name, lw);
    for (const [k, v] of Object.entries(ev.attributes)) assertTag(log.fields, k, v, lw);
  });

  const proc = processes?.[span.processID];
  assert.ok(
    proc,
    `${where}: processID "${span.processID}" is not a key of processes ` +
      show(Object.keys(processes ?? {})),
  );
  assert.equal(proc.serviceName, e.serviceName, `${where}: processes["${span.processID}"].serviceName`);
  for (const [k, v] of Object.entries(e.resource)) {
    if (k === 'service.name') continue;
    assertTag(proc.tags ?? [], k, v, `${where}: processes["${span.processID}"]`);
  }
}

// Checks a whole /api/traces/{traceId} response against the expected spans of that trace.
export function checkJaegerTrace(body, traceId, expected) {
  for (const key of ['data', 'total', 'limit', 'offset', 'errors']) {
    assert.ok(key in body, `/api/traces/${traceId}: response lacks "${key}": ${show(Object.keys(body))}`);
  }
  assert.ok(
    body.errors === null || (Array.isArray(body.errors) && body.errors.length === 0),
    `/api/traces/${traceId}: errors: ${show(body.errors)}`,
  );
  assert.equal(
    body.data.length,
    1,
    `/api/traces/${traceId}: expected one trace in data, got ${body.data.length}`,
  );
  const t = body.data[0];
  assert.match(t.traceID, HEX32, `/api/traces/${traceId}: data[0].traceID`);
  assert.equal(t.traceID, traceId, `/api/traces/${traceId}: data[0].traceID`);
  assert.equal(
    t.spans.length,
    expected.length,
    `/api/traces/${traceId}: expected ${expected.length} spans, got ${t.spans.length}: ` +
      show(t.spans.map((s) => `${s.operationName}/${s.spanID}`)),
  );
  for (const e of expected) {
    const matches = t.spans.filter((s) => s.spanID === e.spanId);
    assert.equal(matches.length, 1, `/api/traces/${traceId}: ${spanLabel(e)} found ${matches.length} times`);
    checkJaegerSpan(matches[0], t.processes, e);
  }
}

// ---------------------------------------------------------------------------------------------
// OTLP JSON (/api/v3/traces/{id})

// The OTLP JSON AnyValue an attribute value maps to (int64 as a decimal string).
export function otlpAnyValue(value) {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
  }
  if (Array.isArray(value)) return { arrayValue: { values: value.map(otlpAnyValue) } };
  throw new Error(`no OTLP mapping for attribute value ${show(value)}`);
}

// Asserts an OTLP KeyValue list equals the attributes object exactly (order-independent).
function assertOtlpAttributes(got, want, where) {
  const list = got ?? [];
  assert.ok(Array.isArray(list), `${where}: attributes must be an array, got ${show(got)}`);
  const keys = list.map((kv) => kv.key);
  assert.deepEqual(
    [...keys].sort(),
    Object.keys(want).sort(),
    `${where}: attribute keys: expected ${show(Object.keys(want).sort())}, got ${show(keys)}`,
  );
  for (const [k, v] of Object.entries(want)) {
    const kv = list.find((x) => x.key === k);
    assert.deepEqual(
      kv.value,
      otlpAnyValue(v),
      `${where}: attribute "${k}": expected ${show(otlpAnyValue(v))}, got ${show(kv.value)}`,
    );
  }
}

// Flattens a v3 response into [{ resource, scope, span }].
export function flattenV3(body) {
  const out = [];
  for (const rs of body.result.resourceSpans) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) out.push({ resource: rs.resource, scope: ss.scope, span });
    }
  }
  return out;
}

// Checks one OTLP JSON span (with its resource and scope) against its expected record.
export function checkV3Span({ resource, scope, span }, e) {
  const where = `/api/v3/traces ${spanLabel(e)}`;
  assert.match(
    span.traceId ?? '',
    HEX32,
    `${where}: traceId must be 32 lowercase hex digits, got ${show(span.traceId)}`,
  );
  assert.equal(span.traceId, e.traceId, `${where}: traceId`);
  assert.match(
    span.spanId ?? '',
    HEX16,
    `${where}: spanId must be 16 lowercase hex digits, got ${show(span.spanId)}`,
  );
  assert.equal(span.spanId, e.spanId, `${where}: spanId`);
  if (e.parentSpanId) {
    assert.equal(span.parentSpanId, e.parentSpanId, `${where}: parentSpanId`);
  } else {
    assert.ok(
      span.parentSpanId === undefined || span.parentSpanId === '',
      `${where}: root span must have no parentSpanId, got ${show(span.parentSpanId)}`,
    );
  }
  assert.equal(span.name, e.name, `${where}: name`);
  assert.equal(span.kind, e.kind + 1, `${where}: kind (OTLP enum int; api SpanKind ${e.kind} + 1)`);
  assert.equal(span.startTimeUnixNano, String(e.startNs), `${where}: startTimeUnixNano (int64 as string)`);
  assert.equal(span.endTimeUnixNano, String(e.endNs), `${where}: endTimeUnixNano (int64 as string)`);
  assertOtlpAttributes(span.attributes, e.attributes, `${where}: span`);

  const events = span.events ?? [];
  assert.equal(
    events.length,
    e.events.length,
    `${where}: expected ${e.events.length} events, got ${show(events)}`,
  );
  e.events.forEach((ev, i) => {
    const got = events[i];
    const ew = `${where}: event ${i} "${ev.name}"`;
    assert.equal(got.name, ev.name, `${ew}: name`);
    assert.equal(got.timeUnixNano, String(ev.timeNs), `${ew}: timeUnixNano`);
    assertOtlpAttributes(got.attributes, ev.attributes, ew);
  });

  const links = span.links ?? [];
  assert.equal(
    links.length,
    e.links.length,
    `${where}: expected ${e.links.length} links, got ${show(links)}`,
  );
  e.links.forEach((l, i) => {
    const got = links[i];
    const lw = `${where}: link ${i}`;
    assert.equal(got.traceId, l.traceId, `${lw}: traceId`);
    assert.equal(got.spanId, l.spanId, `${lw}: spanId`);
    assertOtlpAttributes(got.attributes, l.attributes, lw);
  });

  const status = span.status ?? {};
  if (e.status.code === SpanStatusCode.UNSET) {
    assert.ok(
      status.code === undefined || status.code === 0,
      `${where}: status.code: expected 0 or absent (UNSET), got ${show(status)}`,
    );
  } else {
    assert.equal(status.code, e.status.code, `${where}: status.code (${show(status)})`);
  }
  if (e.status.code === SpanStatusCode.ERROR) {
    assert.equal(status.message, e.status.message, `${where}: status.message`);
  }

  assertOtlpAttributes(resource?.attributes, e.resource, `${where}: resource`);
  assert.equal(scope?.name, e.scope.name, `${where}: scope.name`);
  assert.equal(scope?.version, e.scope.version, `${where}: scope.version`);
}

// Checks a whole /api/v3/traces/{traceId} response against the expected spans of that trace.
export function checkV3Trace(body, traceId, expected) {
  const flat = flattenV3(body);
  assert.equal(
    flat.length,
    expected.length,
    `/api/v3/traces/${traceId}: expected ${expected.length} spans, got ${flat.length}: ` +
      show(flat.map((f) => `${f.span.name}/${f.span.spanId}`)),
  );
  for (const e of expected) {
    const matches = flat.filter((f) => f.span.spanId === e.spanId);
    assert.equal(
      matches.length,
      1,
      `/api/v3/traces/${traceId}: ${spanLabel(e)} found ${matches.length} times`,
    );
    checkV3Span(matches[0], e);
  }
}
