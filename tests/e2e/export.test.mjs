// End-to-end forwarding: two real tailtraced daemons. The OpenTelemetry JS SDK sends the checkout
// trace to the forwarder A, whose `exporters.otlp` points at the OTLP port of the backend B (an
// ordinary tailtraced); every span must come back intact from B's query APIs. A runs with its
// store (the trace is in both) and with `storage.enabled: false` (a pure tail-sampling tier:
// only the traces its policy keeps reach B, its own query API answers 503, and SIGTERM sends
// what it still holds).
//
// Run from the repo root:
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/

import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { checkJaegerTrace, checkV3Trace } from './lib/checks.mjs';
import { httpGet, pollJaegerTrace, pollUntil, pollV3Trace, startDaemon } from './lib/daemon.mjs';
import { buildCheckoutTrace, createShopServices } from './lib/scenario.mjs';

// The exporters section pointing at `backend` over `protocol`.
function exportersYaml(backend, protocol) {
  const endpoint =
    protocol === 'grpc' ? backend.endpoints.grpc : `http://${backend.endpoints.http}`;
  return [
    'exporters:',
    '  otlp:',
    `    endpoint: ${endpoint}`,
    `    protocol: ${protocol}`,
    '    headers: { x-e2e: forwarded }',
    '    retry_on_failure: { initial_interval: 100ms }',
  ].join('\n');
}

// Sends the checkout trace (plus the one-span trace it links to) to `daemon` over OTLP/gRPC,
// one export per service; returns the ids and the SDK's spans of both traces.
async function sendCheckoutTrace(daemon) {
  const services = createShopServices('grpc', daemon.endpoints);
  try {
    const ids = buildCheckoutTrace(services);
    for (const name of ['inventory', 'checkout', 'frontend']) await services[name].flush();
    const all = Object.values(services).flatMap((s) => s.expectedSpans());
    return {
      ...ids,
      expected: all.filter((s) => s.traceId === ids.traceId),
      expectedOther: all.filter((s) => s.traceId === ids.otherTraceId),
    };
  } finally {
    await Promise.all(Object.values(services).map((s) => s.shutdown()));
  }
}

// The value of a counter (summed over its label sets) on `daemon`'s /metrics.
async function counter(daemon, name, labels = '') {
  const text = (await httpGet(daemon.adminUrl('/metrics'))).body;
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}${labels}`) && !line.startsWith('#')) {
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return sum;
}

async function expectCleanStop(daemon) {
  const { code, signal } = await daemon.stop();
  assert.equal(signal, null, `stderr: ${daemon.stderrTail()}`);
  assert.equal(code, 0, `exit code; stderr: ${daemon.stderrTail()}`);
}

describe('forwarding kept traces to another OTLP backend', () => {
  let backend;

  before(async () => {
    backend = await startDaemon();
  });

  after(async () => {
    await backend?.cleanup();
  });

  for (const protocol of ['grpc', 'http/protobuf']) {
    test(`with a store, over ${protocol}: the trace is stored and arrives intact`, async () => {
      const forwarder = await startDaemon({ extraYaml: exportersYaml(backend, protocol) });
      try {
        const run = await sendCheckoutTrace(forwarder);
        checkJaegerTrace(
          await pollJaegerTrace(backend, run.traceId, run.expected.length),
          run.traceId,
          run.expected,
        );
        checkV3Trace(
          await pollV3Trace(backend, run.traceId, run.expected.length),
          run.traceId,
          run.expected,
        );
        checkJaegerTrace(await pollJaegerTrace(backend, run.otherTraceId, 1), run.otherTraceId,
          run.expectedOther);
        // Still kept by the forwarder itself.
        checkJaegerTrace(
          await pollJaegerTrace(forwarder, run.traceId, run.expected.length),
          run.traceId,
          run.expected,
        );
        const total = run.expected.length + run.expectedOther.length;
        assert.equal(
          await counter(forwarder, 'otelcol_exporter_sent_spans', '{exporter="otlp"}'),
          total,
        );
        assert.equal(await counter(forwarder, 'tailtrace_exporter_dropped_spans_total'), 0);
      } finally {
        await expectCleanStop(forwarder);
        await forwarder.cleanup();
      }
    });
  }

  test('storage.enabled: false: only the kept traces are forwarded; queries answer 503', async () => {
    const forwarder = await startDaemon({
      storageYaml: '  enabled: false',
      samplingYaml: [
        '  policies:',
        '    - { name: errors, type: status_code, status_code: { status_codes: [ERROR] } }',
      ].join('\n'),
      extraYaml: exportersYaml(backend, 'http/protobuf'),
    });
    try {
      const run = await sendCheckoutTrace(forwarder);
      // The checkout trace has a failed span: kept and forwarded.
      checkV3Trace(
        await pollV3Trace(backend, run.traceId, run.expected.length),
        run.traceId,
        run.expected,
      );
      // Every span sent is the checkout trace's: the linked trace, without an error, was dropped.
      await pollUntil('the forwarder to count the sent spans', async (seen) => {
        const sent = await counter(forwarder, 'otelcol_exporter_sent_spans');
        seen(`${sent} sent`);
        return sent === run.expected.length ? sent : undefined;
      });
      assert.equal((await httpGet(backend.queryUrl(`/api/traces/${run.otherTraceId}`))).status, 404);

      const jaeger = await httpGet(forwarder.queryUrl(`/api/traces/${run.traceId}`));
      assert.equal(jaeger.status, 503);
      assert.match(jaeger.json.errors[0].msg, /storage\.enabled: false.*forwards them to http:\/\//);
      const v3 = await httpGet(forwarder.queryUrl('/api/v3/services'));
      assert.equal(v3.status, 503);
      assert.equal(v3.json.error.httpCode, 503);
      assert.equal((await httpGet(forwarder.adminUrl('/readyz'))).status, 200);
      // No RocksDB store was created; the write-ahead log is all there is.
      assert.deepEqual(await readdir(path.join(forwarder.dir, 'data')), ['wal']);
    } finally {
      await expectCleanStop(forwarder);
      await forwarder.cleanup();
    }
  });

  test('storage.enabled: false: SIGTERM decides and sends every trace still held', async () => {
    // Nothing is decided before the shutdown.
    const forwarder = await startDaemon({
      decisionWait: '1h',
      decisionWaitAfterRoot: '1h',
      storageYaml: '  enabled: false',
      extraYaml: exportersYaml(backend, 'grpc'),
    });
    try {
      const run = await sendCheckoutTrace(forwarder);
      assert.equal(await counter(forwarder, 'otelcol_exporter_sent_spans'), 0);
      await expectCleanStop(forwarder);
      checkJaegerTrace(
        await pollJaegerTrace(backend, run.traceId, run.expected.length),
        run.traceId,
        run.expected,
      );
      await pollJaegerTrace(backend, run.otherTraceId, 1);
    } finally {
      await forwarder.cleanup();
    }
  });
});
