// End-to-end tests of the ClickHouse backend when ClickHouse fails: a private clickhouse-server
// (lib/clickhouse.mjs) killed, frozen and restarted under a real tailtraced.
// ClickHouse killed under a running daemon: acknowledged spans wait in the sampler; once an
// INSERT failed, the receivers refuse new spans (HTTP 503 + Retry-After, gRPC UNAVAILABLE)
// naming ClickHouse, /readyz and the query API answer 503, and the log says why; a daemon
// starting now refuses to, naming the endpoint; ClickHouse restarted on the same ports and
// data: writes resume, every acknowledged trace is whole (written once), every refused one
// absent, and an SDK export begun during the outage succeeds on its retry. Then ClickHouse and
// tailtraced both killed: after both restart, the write-ahead log brings back what was held.
// An INSERT that timed out while ClickHouse was frozen (SIGSTOP) but ran when it thawed: the
// pipeline writes the trace again, with the same write IDs, and each span is read back once.
//
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/clickhouse_outage.test.mjs
//   (TAILTRACE_CLICKHOUSE_SERVER=/path/to/clickhouse-server overrides the server binary)

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { checkJaegerTrace } from './lib/checks.mjs';
import { startClickHouse, clickhouseStorageYaml, rowsPerTrace } from './lib/clickhouse.mjs';
import { metricSum, readMetrics } from './lib/cluster.mjs';
import { httpGet, pollJaegerTrace, pollUntil, startDaemon, truncate } from './lib/daemon.mjs';
import {
  TRANSPORTS,
  assertBackpressure,
  exportOnce,
  makeOrderTrace,
} from './lib/otlp_requests.mjs';
import { jaegerSearch } from './lib/search.mjs';
import { ServiceClient, toExpectedSpan } from './lib/sdk.mjs';

describe('storage.backend: clickhouse', () => {
  let ch;

  before(async () => {
    ch = await startClickHouse();
  });

  after(async () => {
    await ch?.cleanup();
  });

  // ---------------------------------------------------------------------------------------------
  describe('ClickHouse down and back', () => {
    const DATABASE = 'e2e_outage';
    let daemon;
    // Spans made with the SDK (kept in memory only) and sent as the SDK's exporters serialize
    // them, one request per trace (lib/otlp_requests.mjs), so that every answer is seen as the
    // daemon gave it.
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: defaultResource().merge(
        resourceFromAttributes({ 'service.name': 'outage-app', 'deployment.environment': 'e2e' }),
      ),
      spanProcessors: [new SimpleSpanProcessor(memory)],
    });
    const tracer = provider.getTracer('e2e.outage', '1.0.0');
    // { traceId, transport, phase, acked, status, message, retryAfter, expected }
    const sent = [];
    let sdkClient;


    // Sends one new trace over `transport`; records and returns what the daemon answered.
    async function send(phase, transport) {
      const spans = makeOrderTrace(tracer, memory, phase);
      const answer = await exportOnce(daemon.endpoints, transport, spans);
      const record = {
        traceId: spans[0].spanContext().traceId,
        transport,
        phase,
        ...answer,
        expected: spans.map(toExpectedSpan),
      };
      sent.push(record);
      return record;
    }

    const describeSent = (list) =>
      list
        .map(
          (s) =>
            `${s.phase}/${s.transport}: ${s.acked ? 'acked' : `${s.status} ${truncate(s.message, 200)}`}`,
        )
        .join('\n');
    const readyz = () => httpGet(daemon.adminUrl('/readyz'));

    before(async () => {
      // Decisions 1 s after a root: a trace sent right before ClickHouse dies is written after.
      daemon = await startDaemon({
        decisionWait: '2s',
        decisionWaitAfterRoot: '1s',
        storageYaml: clickhouseStorageYaml(ch, DATABASE, { timeout: '2s' }),
      });
    });

    after(async () => {
      // After a failure with ClickHouse down, SIGTERM would wait for the store (30 s): kill.
      if (!ch?.running) await daemon?.kill();
      await sdkClient?.shutdown().catch(() => {});
      await provider.shutdown();
      await daemon?.cleanup();
    });

    test('traces sent while ClickHouse is up are stored', async () => {
      for (const transport of TRANSPORTS) {
        const s = await send('stored', transport);
        assert.ok(s.acked, describeSent([s]));
      }
      for (const s of sent)
        checkJaegerTrace(await pollJaegerTrace(daemon, s.traceId, 3), s.traceId, s.expected);
    });

    test('ClickHouse killed: spans are acknowledged until an INSERT fails, then refused with 503 / UNAVAILABLE naming ClickHouse', async (t) => {
      // Held by the sampler for a second, so written after ClickHouse is gone.
      for (const transport of TRANSPORTS) await send('pending', transport);
      await ch.kill();
      // Nothing has failed yet: the daemon takes these too.
      for (const transport of TRANSPORTS) await send('down', transport);
      const early = sent.filter((s) => s.phase === 'pending' || s.phase === 'down');
      assert.ok(
        early.every((s) => s.acked),
        `before any INSERT failed:\n${describeSent(early)}`,
      );

      // Once the pending traces' INSERT failed, the admission gate refuses new data.
      let i = 0;
      await pollUntil(
        'a refusal over each of http/protobuf, http/json and grpc',
        async (seen) => {
          await send('refusing', TRANSPORTS[i++ % TRANSPORTS.length]);
          const refused = new Set(sent.filter((s) => !s.acked).map((s) => s.transport));
          seen(describeSent(sent.slice(-3)));
          return refused.size === TRANSPORTS.length ? true : undefined;
        },
        { daemon, timeoutMs: 10_000, intervalMs: 100 },
      );
      const refused = sent.filter((s) => !s.acked);
      t.diagnostic(
        `${sent.filter((s) => s.phase === 'refusing' && s.acked).length} traces acknowledged ` +
          `after the kill before the first refusal; ${refused.length} refused`,
      );
      for (const s of refused) {
        const what = describeSent([s]);
        assertBackpressure(s, /INSERT into ClickHouse failed/, what);
      }
      // Once refusing, the daemon refuses everything until ClickHouse is back.
      const firstRefusal = sent.indexOf(refused[0]);
      assert.deepEqual(
        sent.slice(firstRefusal).filter((s) => s.acked),
        [],
        `acknowledged after the first refusal:\n${describeSent(sent.slice(firstRefusal))}`,
      );

      const ready = await readyz();
      assert.equal(ready.status, 503, ready.body);
      assert.match(ready.body, /ClickHouse/);
      const metrics = await readMetrics(daemon);
      assert.equal(metricSum(metrics, 'tailtrace_store_writable'), 0);
      assert.equal(
        metricSum(metrics, 'tailtrace_admission_refused_spans_total', { cause: 'store' }),
        3 * refused.length,
      );
      assert.match(
        daemon.stderr,
        /\[error\] shard \d+: store write of \d+ traces failed, will retry: ClickHouse: .*127\.0\.0\.1/,
      );
    });

    test('queries while ClickHouse is down fail naming it', async () => {
      const stored = sent.find((s) => s.phase === 'stored');
      const r = await httpGet(daemon.queryUrl(`/api/traces/${stored.traceId}`));
      assert.equal(
        r.status,
        503,
        `GET /api/traces/${stored.traceId}: ${r.status} ${truncate(r.body, 500)}`,
      );
      assert.match(r.body, /ClickHouse/);
    });

    test('a daemon does not start while ClickHouse is unreachable, naming the endpoint', async () => {
      const started = Date.now();
      await assert.rejects(
        startDaemon({ storageYaml: clickhouseStorageYaml(ch, 'e2e_unreachable') }),
        (err) => {
          assert.match(err.message, /tailtraced exited with code [1-9]\d* before it was ready/);
          assert.ok(
            err.message.includes(`cannot reach ClickHouse at ${ch.endpoint}`),
            `the error must name the endpoint ${ch.endpoint}:\n${err.message}`,
          );
          return true;
        },
      );
      assert.ok(Date.now() - started < 10_000, 'it gives up without waiting long');
    });

    test('ClickHouse back on the same ports and data: every acknowledged trace is whole, refused ones absent', async (t) => {
      // The real SDK exporter, begun while the daemon refuses: it retries after Retry-After.
      sdkClient = new ServiceClient({
        serviceName: 'outage-sdk',
        protocol: 'http/protobuf',
        endpoints: daemon.endpoints,
      });
      const root = sdkClient.tracer.startSpan(
        'GET /retry',
        { kind: SpanKind.SERVER },
        ROOT_CONTEXT,
      );
      sdkClient.tracer.startSpan('retry child', {}, trace.setSpan(ROOT_CONTEXT, root)).end();
      root.end();
      const sdkStarted = Date.now();
      const sdkFlush = sdkClient.flush();
      sdkFlush.catch(() => {}); // awaited below; no unhandled rejection if this test fails first
      // Let its first attempt meet the refusal.
      await pollUntil(
        'the SDK export to be refused once',
        async () => {
          const metrics = await readMetrics(daemon);
          const refused = metricSum(metrics, 'tailtrace_admission_refused_spans_total', {
            cause: 'store',
          });
          return refused > 3 * sent.filter((s) => !s.acked).length ? true : undefined;
        },
        { daemon },
      );

      await ch.start();
      await pollUntil(
        '/readyz to answer 200 once an INSERT succeeded again',
        async (seen) => {
          const r = await readyz();
          seen(`${r.status} ${r.body.trim()}`);
          return r.status === 200 ? true : undefined;
        },
        { daemon, timeoutMs: 15_000 },
      );
      assert.match(daemon.stderr, /shard \d+: store writes succeed again/);
      for (const transport of TRANSPORTS) {
        const s = await send('after', transport);
        assert.ok(s.acked, describeSent([s]));
      }
      await sdkFlush; // throws if the export failed in the end
      t.diagnostic(`the SDK export succeeded after ${Date.now() - sdkStarted} ms of retries`);
      const sdkSpans = sdkClient.expectedSpans();
      checkJaegerTrace(
        await pollJaegerTrace(daemon, sdkSpans[0].traceId, 2),
        sdkSpans[0].traceId,
        sdkSpans,
      );

      const acked = sent.filter((s) => s.acked);
      const refused = sent.filter((s) => !s.acked);
      t.diagnostic(`${acked.length} acknowledged traces, ${refused.length} refused`);
      for (const s of acked) {
        const body = await pollJaegerTrace(daemon, s.traceId, 3, { timeoutMs: 15_000 });
        checkJaegerTrace(body, s.traceId, s.expected);
      }
      await pollUntil(
        'the sampler to hold no trace',
        async (seen) => {
          const buffered = metricSum(
            await readMetrics(daemon),
            'tailtrace_sampler_traces_buffered',
          );
          seen(`buffered: ${buffered}`);
          return buffered === 0 ? true : undefined;
        },
        { daemon },
      );
      for (const s of refused) {
        const r = await httpGet(daemon.queryUrl(`/api/traces/${s.traceId}`));
        assert.equal(
          r.status,
          404,
          `refused ${describeSent([s])}: GET /api/traces: ${truncate(r.body, 300)}`,
        );
      }
      const metrics = await readMetrics(daemon);
      assert.equal(metricSum(metrics, 'tailtrace_store_writable'), 1);
    });

    test('tailtraced killed while ClickHouse is down: after both restart, the write-ahead log replays the acknowledged traces', async (t) => {
      const before = sent.length;
      await ch.kill();
      let i = 0;
      await pollUntil(
        'a refusal once an INSERT failed',
        async (seen) => {
          const s = await send('wal', TRANSPORTS[i++ % TRANSPORTS.length]);
          seen(describeSent([s]));
          return s.acked ? undefined : true;
        },
        { daemon, timeoutMs: 10_000, intervalMs: 100 },
      );
      const held = sent.slice(before).filter((s) => s.acked);
      t.diagnostic(`${held.length} traces acknowledged and not stored when tailtraced is killed`);
      assert.ok(held.length > 0, 'the daemon acknowledged traces before refusing');
      await daemon.kill('SIGKILL');
      await ch.start();
      await daemon.restart();
      for (const s of held) {
        const body = await pollJaegerTrace(daemon, s.traceId, 3, { timeoutMs: 15_000 });
        checkJaegerTrace(body, s.traceId, s.expected);
      }
      // They came back from the log (the sampler of the killed process had them in memory only).
      const replayed = metricSum(await readMetrics(daemon), 'tailtrace_wal_replayed_spans_total');
      assert.ok(
        replayed >= 3 * held.length,
        `${replayed} spans replayed, ${held.length} traces held`,
      );
      // What was stored before is still there, once.
      for (const s of sent.filter((x) => x.phase === 'stored')) {
        checkJaegerTrace(await pollJaegerTrace(daemon, s.traceId, 3), s.traceId, s.expected);
      }
      await pollUntil(
        'the sampler to hold no trace',
        async (seen) => {
          const buffered = metricSum(
            await readMetrics(daemon),
            'tailtrace_sampler_traces_buffered',
          );
          seen(`buffered: ${buffered}`);
          return buffered === 0 ? true : undefined;
        },
        { daemon },
      );
      for (const s of sent.slice(before).filter((x) => !x.acked)) {
        const r = await httpGet(daemon.queryUrl(`/api/traces/${s.traceId}`));
        assert.equal(
          r.status,
          404,
          `refused ${describeSent([s])}: GET /api/traces: ${truncate(r.body, 300)}`,
        );
      }
      // In ClickHouse, every acknowledged trace was written once: the failed INSERTs left nothing,
      // and the replay skipped what the store already had.
      const acked = sent.filter((s) => s.acked);
      const rows = await rowsPerTrace(
        ch,
        DATABASE,
        acked.map((s) => s.traceId),
      );
      for (const s of acked) {
        assert.deepEqual(
          rows.get(s.traceId),
          { rows: 3, spans: 3, writes: 1 },
          `${DATABASE}.span_index rows of ${describeSent([s])}`,
        );
      }
      const exit = await daemon.stop();
      assert.deepEqual(
        { code: exit.code, signal: exit.signal },
        { code: 0, signal: null },
        daemon.stderrTail(),
      );
    });
  });
  // ---------------------------------------------------------------------------------------------
  describe('an INSERT that timed out but ClickHouse ran anyway', () => {
    const DATABASE = 'e2e_paused';
    let daemon;
    let client;

    before(async () => {
      daemon = await startDaemon({
        storageYaml: clickhouseStorageYaml(ch, DATABASE, { timeout: '1s' }),
      });
    });

    after(async () => {
      ch?.resume();
      await client?.shutdown().catch(() => {});
      await daemon?.cleanup();
    });

    // docs/clickhouse.md: "A retried INSERT that had succeeded (the answer was lost) writes its
    // rows again with the same write ID and ordinals; reads skip the copies."
    test(
      'the retried write is read back once',
      async () => {
        client = new ServiceClient({
          serviceName: 'paused-app',
          protocol: 'http/protobuf',
          endpoints: daemon.endpoints,
        });
        const root = client.tracer.startSpan('GET /slow', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
        client.tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, root)).end();
        root.end();
        await client.flush();
        const traceId = root.spanContext().traceId;
        const expected = client.expectedSpans();
        // Frozen before the trace is decided (200 ms after its root): its INSERT reaches the
        // server's socket and times out after storage.clickhouse.timeout (1 s).
        ch.pause();
        try {
          await pollUntil(
            'an INSERT to time out',
            async () =>
              /store write of \d+ traces failed, will retry: ClickHouse: .*timed out/.test(
                daemon.stderr,
              )
                ? true
                : undefined,
            { daemon },
          );
        } finally {
          ch.resume();
        }
        await pollUntil(
          '/readyz to answer 200',
          async () =>
            (await httpGet(daemon.adminUrl('/readyz'))).status === 200 ? true : undefined,
          { daemon },
        );
        // The server ran the timed-out INSERT too, when it was thawed.
        const rows = await pollUntil(
          'the copies of the retried INSERT in ClickHouse',
          async (seen) => {
            const r = (await rowsPerTrace(ch, DATABASE, [traceId])).get(traceId);
            seen(JSON.stringify(r));
            return r && r.rows >= 2 * expected.length ? r : undefined;
          },
          { daemon },
        );
        assert.equal(rows.spans, expected.length);
        const body = await pollJaegerTrace(daemon, traceId, expected.length);
        checkJaegerTrace(body, traceId, expected);
        const found = await jaegerSearch(daemon, { service: 'paused-app' });
        assert.deepEqual(found.ids, [traceId]);
        assert.equal(found.traces[0].spans.length, expected.length);
      },
    );
  });
});
