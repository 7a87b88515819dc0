// End-to-end ingest tests: real OpenTelemetry JS SDK clients export over OTLP/gRPC,
// OTLP/HTTP protobuf and OTLP/HTTP JSON to a running tailtraced, and every span is read back
// through the Jaeger (/api/traces) and OTLP JSON (/api/v3/traces) query APIs; the Jaeger UI's
// "Archive Trace" (/api/archive) keeps a copy that reads back whole.
//
// Run from the repo root:
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';

import { checkJaegerTrace, checkV3Trace } from './lib/checks.mjs';
import {
  getJson,
  httpGet,
  pollJaegerTrace,
  pollUntil,
  pollV3Trace,
  startDaemon,
} from './lib/daemon.mjs';
import { SHOP_OPERATIONS, sendCheckoutTrace, Timeline } from './lib/scenario.mjs';
import { jaegerSearch } from './lib/search.mjs';
import { PROTOCOLS, ServiceClient } from './lib/sdk.mjs';

describe('tailtraced ingest with OpenTelemetry JS SDK exporters', () => {
  let daemon;

  before(async () => {
    daemon = await startDaemon();
  });

  after(async () => {
    await daemon?.cleanup();
  });

  const sent = {}; // protocol -> result of sendCheckoutTrace

  for (const protocol of PROTOCOLS) {
    describe(`multi-service trace over ${protocol}`, () => {
      before(async () => {
        sent[protocol] = await sendCheckoutTrace(daemon, protocol);
      });

      test('the SDK side produced the intended trace', () => {
        const run = sent[protocol];
        assert.equal(run.expected.length, run.spanCount, 'spans recorded by the SDK');
        assert.equal(run.expectedOther.length, 1, 'spans of the linked other trace');
        // One export request per service, each carrying only that service's spans.
        assert.deepEqual(run.exportsPerService, { inventory: 1, checkout: 1, frontend: 1 });
        const kinds = new Set(run.expected.map((s) => s.kind));
        for (const k of ['SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER', 'INTERNAL']) {
          assert.ok(kinds.has(SpanKind[k]), `span kind ${k} present`);
        }
        const services = new Set(run.expected.map((s) => s.serviceName));
        assert.deepEqual([...services].sort(), ['checkout', 'frontend', 'inventory']);
        // Cross-service parenting really happened through context propagation.
        const byId = new Map(run.expected.map((s) => [s.spanId, s]));
        const checkoutServer = run.expected.find(
          (s) => s.serviceName === 'checkout' && s.kind === SpanKind.SERVER,
        );
        assert.equal(byId.get(checkoutServer.parentSpanId)?.serviceName, 'frontend');
      });

      test('GET /api/traces/{id} returns every span: references, times, tags, logs, process', async () => {
        const run = sent[protocol];
        const body = await pollJaegerTrace(daemon, run.traceId, run.spanCount);
        checkJaegerTrace(body, run.traceId, run.expected);
      });

      test('GET /api/v3/traces/{id} returns every span as OTLP JSON', async () => {
        const run = sent[protocol];
        const body = await pollV3Trace(daemon, run.traceId, run.spanCount);
        checkV3Trace(body, run.traceId, run.expected);
      });

      test("the trace is found by its events' names and attributes", async () => {
        const run = sent[protocol];
        await pollJaegerTrace(daemon, run.traceId, run.spanCount);
        const byName = await jaegerSearch(daemon, { service: 'frontend', tag: 'event:cart.loaded' });
        assert.ok(byName.ids.includes(run.traceId), JSON.stringify(byName.ids));
        const byAttribute = await jaegerSearch(daemon, { tags: '{"cart.currency":"EUR"}' });
        assert.ok(byAttribute.ids.includes(run.traceId), JSON.stringify(byAttribute.ids));
        const none = await jaegerSearch(daemon, { service: 'checkout', tag: 'event:cart.loaded' });
        assert.ok(!none.ids.includes(run.traceId), 'the event is on a frontend span');
      });

      test('POST /api/transform shows the OTLP/JSON of the trace as the Jaeger trace', async () => {
        const run = sent[protocol];
        const v3 = await pollV3Trace(daemon, run.traceId, run.spanCount);
        const r = await fetch(daemon.queryUrl('/api/transform'), {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(v3.result),
        });
        assert.equal(r.status, 200);
        checkJaegerTrace(await r.json(), run.traceId, run.expected);
      });

      test('POST /api/archive/{id} archives the trace and GET /api/archive/{id} returns it whole', async () => {
        const run = sent[protocol];
        await pollJaegerTrace(daemon, run.traceId, run.spanCount);
        const url = daemon.queryUrl(`/api/archive/${run.traceId}`);
        // The Jaeger UI's "Archive Trace" button: Jaeger answers an empty data array.
        const posted = await fetch(url, { method: 'POST' });
        assert.equal(posted.status, 200, `POST ${url}`);
        assert.deepEqual(await posted.json(), { data: [], total: 0, limit: 0, offset: 0, errors: [] });
        const archived = await fetch(url);
        assert.equal(archived.status, 200, `GET ${url}`);
        checkJaegerTrace(await archived.json(), run.traceId, run.expected);
        // Archiving again changes nothing.
        assert.equal((await fetch(url, { method: 'POST' })).status, 200);
        checkJaegerTrace(await (await fetch(url)).json(), run.traceId, run.expected);
      });

      test('the trace a link points to is stored as its own trace', async () => {
        const run = sent[protocol];
        const jaeger = await pollJaegerTrace(daemon, run.otherTraceId, 1);
        checkJaegerTrace(jaeger, run.otherTraceId, run.expectedOther);
        const v3 = await pollV3Trace(daemon, run.otherTraceId, 1);
        checkV3Trace(v3, run.otherTraceId, run.expectedOther);
      });
    });
  }

  test('GET /api/services lists the three services', async () => {
    const url = daemon.queryUrl('/api/services');
    const names = await pollUntil(
      `GET ${url} to list frontend, checkout and inventory`,
      async (seen) => {
        const body = await getJson(url);
        seen(JSON.stringify(body));
        assert.ok(Array.isArray(body.data), `GET ${url}: "data" must be an array: ${JSON.stringify(body)}`);
        const ok = ['frontend', 'checkout', 'inventory'].every((s) => body.data.includes(s));
        return ok ? body.data : undefined;
      },
      { daemon },
    );
    assert.equal(
      new Set(names).size,
      names.length,
      `GET ${url}: duplicate service names: ${JSON.stringify(names)}`,
    );
  });

  test('GET /api/services/checkout/operations lists the checkout operations', async () => {
    const url = daemon.queryUrl('/api/services/checkout/operations');
    const want = [...SHOP_OPERATIONS.checkout].sort();
    const got = await pollUntil(
      `GET ${url} to list ${JSON.stringify(want)}`,
      async (seen) => {
        const body = await getJson(url);
        seen(JSON.stringify(body));
        assert.ok(Array.isArray(body.data), `GET ${url}: "data" must be an array: ${JSON.stringify(body)}`);
        // Jaeger returns names; accept {name, spanKind} objects as well.
        const names = body.data.map((o) => (typeof o === 'string' ? o : o?.name));
        return want.every((n) => names.includes(n)) ? names : undefined;
      },
      { daemon },
    );
    assert.deepEqual([...new Set(got)].sort(), want, `GET ${url}: exactly the checkout operations`);
    assert.equal(new Set(got).size, got.length, `GET ${url}: duplicate operations: ${JSON.stringify(got)}`);
  });

  test('GET /api/traces/{id} of an unknown trace answers 404', async () => {
    const url = daemon.queryUrl('/api/traces/0123456789abcdef0123456789abcdef');
    const r = await httpGet(url);
    assert.equal(r.status, 404, `GET ${url}: expected 404, got ${r.status}: ${r.body}`);
  });

  test('POST /api/archive/{id} of an unknown trace answers 404 as Jaeger', async () => {
    const url = daemon.queryUrl('/api/archive/0123456789abcdef0123456789abcdef');
    const r = await fetch(url, { method: 'POST' });
    assert.equal(r.status, 404, `POST ${url}`);
    assert.deepEqual(await r.json(), {
      data: null,
      total: 0,
      limit: 0,
      offset: 0,
      errors: [{ code: 404, msg: 'trace not found' }],
    });
  });

  // One trace whose spans travel over different transports (and connections) and services.
  async function sendMixedTrace(prefix, compression) {
    const resourceAttributes = { 'deployment.environment': 'e2e', 'host.name': 'mixed-host' };
    const make = (serviceName, protocol) =>
      new ServiceClient({
        serviceName,
        protocol,
        endpoints: daemon.endpoints,
        compression,
        resourceAttributes,
      });
    const gateway = make(`${prefix}gateway`, 'grpc');
    const billing = make(`${prefix}billing`, 'http/json');
    const ledger = make(`${prefix}ledger`, 'http/protobuf');
    try {
      const t = new Timeline();
      const root = gateway.tracer.startSpan(
        'POST /pay',
        { kind: SpanKind.SERVER, startTime: t.at(0) },
        ROOT_CONTEXT,
      );
      const charge = billing.tracer.startSpan(
        'charge card',
        { kind: SpanKind.SERVER, startTime: t.at(1_000_001), attributes: { 'payment.amount': 12.5 } },
        trace.setSpan(ROOT_CONTEXT, root),
      );
      const write = ledger.tracer.startSpan(
        'write ledger entry',
        { kind: SpanKind.CLIENT, startTime: t.at(2_000_002), attributes: { 'ledger.entries': 2 } },
        trace.setSpan(ROOT_CONTEXT, charge),
      );
      write.end(t.at(3_000_003));
      charge.end(t.at(4_000_004));
      root.end(t.at(5_000_005));
      // Leaves first: the root (over gRPC) arrives last.
      await ledger.flush();
      await billing.flush();
      await gateway.flush();
      const expected = [gateway, billing, ledger].flatMap((s) => s.expectedSpans());
      return { traceId: root.spanContext().traceId, expected };
    } finally {
      await Promise.all([gateway, billing, ledger].map((s) => s.shutdown()));
    }
  }

  test('spans of one trace sent over grpc, http/json and http/protobuf end up in one trace', async () => {
    const { traceId, expected } = await sendMixedTrace('mixed-', 'none');
    assert.equal(expected.length, 3);
    const jaeger = await pollJaegerTrace(daemon, traceId, 3);
    checkJaegerTrace(jaeger, traceId, expected);
    const v3 = await pollV3Trace(daemon, traceId, 3);
    checkV3Trace(v3, traceId, expected);
  });

  // Bytes the gRPC receiver inflated itself (it takes over gzip from gRPC to bound bombs).
  async function grpcInflatedBytes() {
    const text = (await httpGet(daemon.adminUrl('/metrics'))).body;
    const m = text.match(/^tailtrace_grpc_inflated_bytes_total (\d+)/m);
    assert.ok(m, 'tailtrace_grpc_inflated_bytes_total missing from /metrics');
    return Number(m[1]);
  }

  test('gzip-compressed exports over grpc, http/json and http/protobuf are accepted', async () => {
    const inflatedBefore = await grpcInflatedBytes();
    const { traceId, expected } = await sendMixedTrace('gzip-', 'gzip');
    const jaeger = await pollJaegerTrace(daemon, traceId, 3);
    checkJaegerTrace(jaeger, traceId, expected);
    // The JS gRPC exporter sent its message compressed (flag set, grpc-encoding: gzip), and the
    // receiver inflated it; the uncompressed exports before inflated nothing.
    assert.equal(inflatedBefore, 0);
    assert.ok((await grpcInflatedBytes()) > 0, 'the gzip gRPC export was not inflated by us');
  });

  // Last: stopping is part of the contract.
  test('SIGTERM stops the daemon with exit code 0', async () => {
    const exit = await daemon.stop();
    assert.deepEqual(
      { code: exit.code, signal: exit.signal },
      { code: 0, signal: null },
      `tailtraced ${daemon.describeExit()} after SIGTERM\nstderr: ${daemon.stderrTail()}`,
    );
  });
});
