// End-to-end tests of the ClickHouse backend (storage.backend: clickhouse), one daemon: a private
// clickhouse-server (lib/clickhouse.mjs, Debian's 18.16 from `make deps`) and a real tailtraced on it.
// The cluster and the outage tests are clickhouse_cluster.test.mjs and clickhouse_outage.test.mjs.
// One daemon: the OpenTelemetry JS SDK sends the checkout trace over the three OTLP transports
// and the search checkouts; the Jaeger and OTLP JSON query APIs give every span back as the
// RocksDB tests check them (lib/checks.mjs), services, operations, searches by duration and
// tags, summaries, tag values, dependencies and the archive answer from ClickHouse, and the
// spans are rows of the database (no RocksDB files).
// Values with quotes, backslashes, tabs and newlines round-trip and are searchable; a late
// span of a stored trace is a second write, read back with the trace.
//
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/clickhouse.test.mjs
//   (TAILTRACE_CLICKHOUSE_SERVER=/path/to/clickhouse-server overrides the server binary)

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { checkJaegerTrace, checkV3Trace } from './lib/checks.mjs';
import { startClickHouse, clickhouseStorageYaml, rowsPerTrace } from './lib/clickhouse.mjs';
import { metricSum, readMetrics } from './lib/cluster.mjs';
import { getJson, httpGet, pollJaegerTrace, pollUntil, pollV3Trace, startDaemon } from './lib/daemon.mjs';
import {
  createShopServices,
  SHOP_OPERATIONS,
  sendCheckoutTrace,
  Timeline,
} from './lib/scenario.mjs';
import {
  buildSearchCheckout,
  CHECKOUTS,
  jaegerSearch,
  v3Search,
  v3Summaries,
  withQuery,
} from './lib/search.mjs';
import { PROTOCOLS, ServiceClient } from './lib/sdk.mjs';

describe('storage.backend: clickhouse', () => {
  let ch;

  before(async () => {
    ch = await startClickHouse();
  });

  after(async () => {
    await ch?.cleanup();
  });

  // ---------------------------------------------------------------------------------------------
  describe('one daemon: OpenTelemetry SDK -> tailtraced -> ClickHouse -> query APIs', () => {
    const DATABASE = 'e2e_single';
    // The search checkouts' services, named apart from the checkout trace's.
    const SEARCH = {
      frontend: 'search-frontend',
      checkout: 'search-checkout',
      inventory: 'search-inventory',
    };
    let daemon;
    const sent = {}; // protocol -> result of sendCheckoutTrace
    let ids; // the search checkouts' trace IDs, in CHECKOUTS order
    let totalSpans = 0;
    let totalTraces = 0;
    const TRICKY = 'O\'Brien \\ "q" \t tab \n line ü 🙂 %_';
    let tricky; // the expected span of the "quoting" service's trace

    before(async () => {
      daemon = await startDaemon({
        storageYaml: clickhouseStorageYaml(ch, DATABASE, { auth: true }),
        // Span metrics history (and so the dependencies) flushed to the store every second.
        extraYaml: 'metrics: { resolution: 1s }',
      });
      for (const protocol of PROTOCOLS) {
        sent[protocol] = await sendCheckoutTrace(daemon, protocol);
        totalSpans += sent[protocol].spanCount + 1;
        totalTraces += 2;
      }
      const make = (serviceName) =>
        new ServiceClient({ serviceName, protocol: 'http/protobuf', endpoints: daemon.endpoints });
      const services = {
        frontend: make(SEARCH.frontend),
        checkout: make(SEARCH.checkout),
        inventory: make(SEARCH.inventory),
      };
      try {
        const t = new Timeline();
        ids = CHECKOUTS.map((c, i) => buildSearchCheckout(services, t, i, c));
        for (const name of ['inventory', 'checkout', 'frontend']) await services[name].flush();
      } finally {
        await Promise.all(Object.values(services).map((s) => s.shutdown()));
      }
      totalSpans += 3 * CHECKOUTS.length;
      totalTraces += CHECKOUTS.length;
      // Values that SQL literals and ClickHouse's text formats must escape.
      const quoting = new ServiceClient({
        serviceName: 'quoting',
        protocol: 'http/json',
        endpoints: daemon.endpoints,
      });
      try {
        const span = quoting.tracer.startSpan(
          "it's \\ 'quoted'",
          { attributes: { 'e2e.tricky': TRICKY } },
          ROOT_CONTEXT,
        );
        span.end();
        await quoting.flush();
        tricky = quoting.expectedSpans();
      } finally {
        await quoting.shutdown();
      }
      totalSpans += 1;
      totalTraces += 1;
      for (const id of ids) await pollJaegerTrace(daemon, id, 3);
    });

    after(async () => {
      await daemon?.cleanup();
    });

    test('the daemon logs the ClickHouse server it stores in', () => {
      assert.match(
        daemon.stderr,
        new RegExp(`storage: ClickHouse \\S+ at ${ch.endpoint}, database ${DATABASE}`),
      );
    });

    for (const protocol of PROTOCOLS) {
      test(`over ${protocol}: /api/traces and /api/v3/traces give every span back, the linked trace too`, async () => {
        const run = sent[protocol];
        checkJaegerTrace(
          await pollJaegerTrace(daemon, run.traceId, run.spanCount),
          run.traceId,
          run.expected,
        );
        checkV3Trace(
          await pollV3Trace(daemon, run.traceId, run.spanCount),
          run.traceId,
          run.expected,
        );
        const other = await pollJaegerTrace(daemon, run.otherTraceId, 1);
        checkJaegerTrace(other, run.otherTraceId, run.expectedOther);
        checkV3Trace(
          await pollV3Trace(daemon, run.otherTraceId, 1),
          run.otherTraceId,
          run.expectedOther,
        );
      });
    }

    test('the spans are rows in ClickHouse, once each, and no RocksDB store was made', async () => {
      for (const run of Object.values(sent))
        await pollJaegerTrace(daemon, run.traceId, run.spanCount);
      const [counts] = await ch.rows(
        `SELECT count() AS spans, uniqExact(trace_id) AS traces FROM ${DATABASE}.spans`,
      );
      assert.deepEqual(
        { spans: +counts.spans, traces: +counts.traces },
        { spans: totalSpans, traces: totalTraces },
      );
      // storage.path holds the write-ahead log only.
      const files = await readdir(path.join(daemon.dir, 'data')).catch(() => []);
      assert.deepEqual(
        files.filter((f) => f !== 'wal'),
        [],
        `RocksDB files in ${daemon.dir}/data`,
      );
      const metrics = await readMetrics(daemon);
      assert.equal(metricSum(metrics, 'tailtrace_store_writable'), 1);
      assert.equal(metricSum(metrics, 'tailtrace_stored_spans_total'), totalSpans);
      assert.equal(metricSum(metrics, 'tailtrace_stored_traces_total'), totalTraces);
    });

    test("traces are found by their events' names and attributes", async () => {
      const all = PROTOCOLS.map((p) => sent[p].traceId).sort();
      const byName = await jaegerSearch(daemon, { service: 'frontend', tag: 'event:cart.loaded' });
      assert.deepEqual([...byName.ids].sort(), all);
      const byAttribute = await jaegerSearch(daemon, { tags: '{"cart.currency":"EUR"}' });
      assert.deepEqual([...byAttribute.ids].sort(), all);
      const none = await jaegerSearch(daemon, { service: 'checkout', tag: 'event:cart.loaded' });
      assert.deepEqual(none.ids, [], 'the event is on a frontend span');
    });

    test('GET /api/services and /api/services/{s}/operations list each name once', async () => {
      const services = (await getJson(daemon.queryUrl('/api/services'))).data;
      assert.deepEqual(
        [...services].sort(),
        ['checkout', 'frontend', 'inventory', 'quoting', ...Object.values(SEARCH)].sort(),
      );
      const operations = async (service) =>
        (
          await getJson(daemon.queryUrl(`/api/services/${encodeURIComponent(service)}/operations`))
        ).data.map((o) => (typeof o === 'string' ? o : o?.name));
      for (const service of ['frontend', 'checkout', 'inventory']) {
        const got = await operations(service);
        assert.deepEqual(
          [...got].sort(),
          [...SHOP_OPERATIONS[service]].sort(),
          `operations of ${service}`,
        );
      }
      assert.deepEqual(await operations(SEARCH.inventory), ['GET /inventory/reserve']);
    });

    test('slow traces are found by service and minDuration, newest first', async () => {
      const slow = await jaegerSearch(daemon, { service: SEARCH.inventory, minDuration: '3s' });
      assert.deepEqual(slow.ids, [ids[3], ids[1]]);
      for (const t of slow.traces) assert.equal(t.spans.length, 3);
      const byOperation = await jaegerSearch(daemon, {
        service: SEARCH.inventory,
        operation: 'GET /inventory/reserve',
        minDuration: '3.6s',
      });
      assert.deepEqual(byOperation.ids, [ids[3]]);
      const between = await jaegerSearch(daemon, {
        service: SEARCH.inventory,
        minDuration: '100ms',
        maxDuration: '4s',
      });
      assert.deepEqual(between.ids, [ids[2], ids[1]]);
      const v3 = await v3Search(daemon, {
        'query.service_name': SEARCH.inventory,
        'query.duration_min': '3s',
      });
      assert.deepEqual(v3.ids, [ids[3], ids[1]]);
      // The checkout trace's server span took 3.1 s.
      const checkoutSlow = await jaegerSearch(daemon, { service: 'checkout', minDuration: '3s' });
      assert.deepEqual([...checkoutSlow.ids].sort(), PROTOCOLS.map((p) => sent[p].traceId).sort());
    });

    test("a user's traces and failed traces are found by tags", async () => {
      const json = await jaegerSearch(daemon, {
        service: SEARCH.frontend,
        tags: JSON.stringify({ 'user.id': 'alice' }),
      });
      assert.deepEqual(json.ids, [ids[2], ids[0]]);
      assert.deepEqual(
        (await jaegerSearch(daemon, { service: SEARCH.frontend, tag: 'user.id:bob' })).ids,
        [ids[1]],
      );
      assert.deepEqual((await jaegerSearch(daemon, { tag: 'user.id:carol' })).ids, [ids[3]]);
      assert.deepEqual(
        (await jaegerSearch(daemon, { service: SEARCH.inventory, tag: 'user.id:alice' })).ids,
        [],
      );
      const v3 = await v3Search(daemon, {
        'query.serviceName': SEARCH.frontend,
        'query.attributes': JSON.stringify({ 'user.id': 'alice' }),
      });
      assert.deepEqual(v3.ids, [ids[2], ids[0]]);
      assert.deepEqual(
        (await jaegerSearch(daemon, { service: SEARCH.checkout, tag: 'error:true' })).ids,
        [ids[2]],
      );
      assert.deepEqual(
        (await jaegerSearch(daemon, { service: SEARCH.frontend, tag: 'error:true' })).ids,
        [],
      );
      assert.deepEqual((await jaegerSearch(daemon, { tag: ['error:true', 'user.id:alice'] })).ids, [
        ids[2],
      ]);
      // The checkout trace's "validate cart" failed: error=true finds it in its service.
      const failedCheckouts = await jaegerSearch(daemon, {
        service: 'checkout',
        tags: '{"error":"true"}',
      });
      assert.deepEqual(
        [...failedCheckouts.ids].sort(),
        PROTOCOLS.map((p) => sent[p].traceId).sort(),
      );
      assert.deepEqual((await jaegerSearch(daemon, { service: SEARCH.frontend, limit: 2 })).ids, [
        ids[3],
        ids[2],
      ]);
      assert.deepEqual((await jaegerSearch(daemon, { service: 'no-such-service' })).ids, []);
    });

    test('values with quotes, backslashes, tabs and newlines are stored, searched and suggested as sent', async () => {
      const [span] = tricky;
      checkJaegerTrace(await pollJaegerTrace(daemon, span.traceId, 1), span.traceId, tricky);
      const found = await jaegerSearch(daemon, {
        service: 'quoting',
        tags: JSON.stringify({ 'e2e.tricky': TRICKY }),
      });
      assert.deepEqual(found.ids, [span.traceId]);
      const byOperation = await jaegerSearch(daemon, { service: 'quoting', operation: span.name });
      assert.deepEqual(byOperation.ids, [span.traceId]);
      const values = await getJson(
        daemon.queryUrl(withQuery('/api/v3/tag-values', { key: 'e2e.tricky' })),
      );
      assert.deepEqual(values.tagValues, [TRICKY]);
      const operations = (await getJson(daemon.queryUrl('/api/services/quoting/operations'))).data;
      assert.deepEqual(
        operations.map((o) => (typeof o === 'string' ? o : o?.name)),
        [span.name],
      );
      // The root span's string with a quote and non-ASCII letters, in each checkout trace.
      const quoted = await jaegerSearch(daemon, {
        tags: JSON.stringify({ 'e2e.string': 'héllo "world"' }),
      });
      assert.deepEqual([...quoted.ids].sort(), PROTOCOLS.map((p) => sent[p].traceId).sort());
    });

    test('trace summaries and tag values', async () => {
      const summaries = await v3Summaries(daemon, {
        'query.service_name': SEARCH.inventory,
        'query.duration_min': '3s',
      });
      assert.deepEqual(
        summaries.map((s) => s.traceId),
        [ids[3], ids[1]],
      );
      assert.equal(summaries[0].rootServiceName, SEARCH.frontend);
      assert.equal(summaries[0].rootOperationName, 'GET /checkout');
      assert.equal(summaries[0].spanCount, 3);
      assert.equal(summaries[0].errorSpanCount, 0);
      const tagValues = async (params) =>
        (await getJson(daemon.queryUrl(withQuery('/api/v3/tag-values', params)))).tagValues;
      assert.deepEqual(await tagValues({ key: 'user.id', service: SEARCH.frontend }), [
        'alice',
        'bob',
        'carol',
      ]);
      assert.deepEqual(await tagValues({ key: 'span.kind', service: SEARCH.inventory }), [
        'server',
      ]);
    });

    test('dependencies count the calls between the services', async () => {
      const links = await pollUntil(
        "the search checkouts' calls in /api/dependencies",
        async (seen) => {
          const body = await getJson(
            daemon.queryUrl(
              withQuery('/api/dependencies', { endTs: Date.now(), lookback: 3_600_000 }),
            ),
          );
          const found = body.data
            .filter((d) => d.parent.startsWith('search-'))
            .map((d) => [d.parent, d.child, d.callCount, d.errorCount]);
          seen(JSON.stringify(body.data));
          return found.length === 2 && found.every((l) => l[2] === CHECKOUTS.length)
            ? found
            : undefined;
        },
        { daemon, timeoutMs: 15_000 },
      );
      assert.deepEqual(links.sort(), [
        [SEARCH.checkout, SEARCH.inventory, 4, 0],
        [SEARCH.frontend, SEARCH.checkout, 4, 1],
      ]);
    });

    test('POST /api/archive/{id} archives a trace and GET /api/archive/{id} returns it whole', async () => {
      const run = sent.grpc;
      const url = daemon.queryUrl(`/api/archive/${run.traceId}`);
      assert.equal((await fetch(url, { method: 'POST' })).status, 200, `POST ${url}`);
      const archived = await fetch(url);
      assert.equal(archived.status, 200, `GET ${url}`);
      checkJaegerTrace(await archived.json(), run.traceId, run.expected);
      // Archiving again stores no second copy.
      assert.equal((await fetch(url, { method: 'POST' })).status, 200);
      checkJaegerTrace(await (await fetch(url)).json(), run.traceId, run.expected);
    });

    test('a late span of a stored trace is a second write, read back with the trace', async () => {
      const run = sent['http/json'];
      const rootSpan = run.expected.find((e) => !e.parentSpanId);
      const services = createShopServices('http/json', daemon.endpoints);
      const { frontend } = services;
      try {
        const parent = trace.setSpanContext(ROOT_CONTEXT, {
          traceId: run.traceId,
          spanId: rootSpan.spanId,
          traceFlags: 1,
        });
        frontend.tracer
          .startSpan(
            'send receipt',
            { kind: SpanKind.PRODUCER, attributes: { 'e2e.late': true } },
            parent,
          )
          .end();
        await frontend.flush();
        const expected = [...run.expected, ...frontend.expectedSpans()];
        checkJaegerTrace(
          await pollJaegerTrace(daemon, run.traceId, expected.length),
          run.traceId,
          expected,
        );
        checkV3Trace(
          await pollV3Trace(daemon, run.traceId, expected.length),
          run.traceId,
          expected,
        );
        const rows = await rowsPerTrace(ch, DATABASE, [run.traceId]);
        assert.deepEqual(rows.get(run.traceId), {
          rows: expected.length,
          spans: expected.length,
          writes: 2,
        });
        // Searches find the trace once, by the late span's tag too, whole.
        const byLate = await jaegerSearch(daemon, { tag: 'e2e.late:true' });
        assert.deepEqual(byLate.ids, [run.traceId]);
        assert.equal(byLate.traces[0].spans.length, expected.length);
        const frontendTraces = await jaegerSearch(daemon, { service: 'frontend', limit: 100 });
        assert.equal(
          new Set(frontendTraces.ids).size,
          frontendTraces.ids.length,
          JSON.stringify(frontendTraces.ids),
        );
        assert.deepEqual(
          [...frontendTraces.ids].sort(),
          PROTOCOLS.map((p) => sent[p].traceId).sort(),
        );
      } finally {
        await Promise.all(Object.values(services).map((c) => c.shutdown()));
      }
    });

    test('an unknown trace ID answers 404', async () => {
      const r = await httpGet(daemon.queryUrl('/api/traces/0123456789abcdef0123456789abcdef'));
      assert.equal(r.status, 404, r.body);
    });

    test('SIGTERM stops the daemon with exit code 0', async () => {
      const exit = await daemon.stop();
      assert.deepEqual(
        { code: exit.code, signal: exit.signal },
        { code: 0, signal: null },
        daemon.stderrTail(),
      );
    });
  });
});
