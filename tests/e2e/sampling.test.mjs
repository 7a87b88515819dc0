// End-to-end tail sampling: real OpenTelemetry JS SDK clients send a mix of ordinary, slow and
// failed three-service traces, each service in its own requests (and over its own OTLP transport),
// to a tailtraced configured with "errors + latency > 2s + 10% probabilistic". Every failed and
// every slow trace must be stored complete; the ordinary ones at about 10%, each complete and
// labelled with the policy and sample rate that kept it.
//
// Run from the repo root:
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanKind, SpanStatusCode, trace, ROOT_CONTEXT } from '@opentelemetry/api';

import { getJson, httpGet, pollUntil, startDaemon } from './lib/daemon.mjs';
import { metricSum, readMetrics } from './lib/cluster.mjs';
import { jaegerSearch, v3Summaries } from './lib/search.mjs';
import { ServiceClient } from './lib/sdk.mjs';

const POLICIES = `
  policies:
    - name: errors
      type: status_code
      status_code: { status_codes: [ERROR] }
    - name: slow
      type: latency
      latency: { threshold_ms: 2000 }
    - name: ten-percent
      type: probabilistic
      probabilistic: { sampling_percentage: 10 }
`;

const ORDINARY = 400;
const FAILED = 25;
const SLOW = 25;
const TOTAL = ORDINARY + FAILED + SLOW;

// Binomial(ORDINARY, 0.1) within 4.5 standard deviations: a false alarm about once in 150,000 runs.
const MEAN = ORDINARY * 0.1;
const SIGMA = Math.sqrt(ORDINARY * 0.1 * 0.9);
const LOW = Math.floor(MEAN - 4.5 * SIGMA);
const HIGH = Math.ceil(MEAN + 4.5 * SIGMA);

const MS = 1_000_000; // ns

// Makes one frontend -> checkout -> inventory trace with explicit timestamps (no waiting), and
// returns its trace ID. `kind` is 'ordinary' (300 ms), 'slow' (2.5 s) or 'failed' (inventory
// span with ERROR status, 300 ms).
function makeTrace(services, kind, baseMs) {
  const durationMs = kind === 'slow' ? 2500 : 300;
  const t = (ms) => [Math.floor((baseMs + ms) / 1000), ((baseMs + ms) % 1000) * MS];
  const root = services.frontend.tracer.startSpan(
    'GET /checkout',
    { kind: SpanKind.SERVER, startTime: t(0), attributes: { 'http.route': '/checkout' } },
    ROOT_CONTEXT,
  );
  const rootCtx = trace.setSpan(ROOT_CONTEXT, root);
  const call = services.checkout.tracer.startSpan(
    'checkout.Submit',
    { kind: SpanKind.SERVER, startTime: t(10) },
    rootCtx,
  );
  const callCtx = trace.setSpan(ROOT_CONTEXT, call);
  const reserve = services.inventory.tracer.startSpan(
    'inventory.Reserve',
    { kind: SpanKind.SERVER, startTime: t(20) },
    callCtx,
  );
  if (kind === 'failed') {
    reserve.setStatus({ code: SpanStatusCode.ERROR, message: 'out of stock' });
  }
  reserve.end(t(durationMs - 20));
  call.end(t(durationMs - 10));
  root.end(t(durationMs));
  return root.spanContext().traceId;
}

function tagValue(span, key) {
  return span.tags.find((tag) => tag.key === key)?.value;
}

// Sum of the daemon's decision counter (all policies, kept and dropped) and its buffered traces.
async function samplerProgress(daemon) {
  const text = (await httpGet(daemon.adminUrl('/metrics'))).body;
  let buffered = null;
  for (const line of text.split('\n')) {
    const m = line.match(/^tailtrace_sampler_traces_buffered(?:\{[^}]*\})? (\d+)/);
    if (m) buffered = (buffered ?? 0) + Number(m[1]);
  }
  return { buffered, text };
}

describe('tail sampling: errors + latency > 2s + 10% probabilistic', () => {
  let daemon;
  const ids = { ordinary: [], slow: [], failed: [] };

  before(async () => {
    daemon = await startDaemon({
      decisionWait: '5s',
      decisionWaitAfterRoot: '300ms',
      samplingYaml: POLICIES,
      // History slots of a second, written every second: the Monitor API sees them at once.
      extraYaml: 'metrics:\n  resolution: 1s',
    });
    const services = {
      frontend: new ServiceClient({
        serviceName: 'frontend',
        protocol: 'grpc',
        endpoints: daemon.endpoints,
      }),
      checkout: new ServiceClient({
        serviceName: 'checkout',
        protocol: 'http/protobuf',
        endpoints: daemon.endpoints,
      }),
      inventory: new ServiceClient({
        serviceName: 'inventory',
        protocol: 'http/json',
        endpoints: daemon.endpoints,
      }),
    };
    try {
      const base = Date.now() - 60_000;
      const kinds = [
        ...Array(ORDINARY).fill('ordinary'),
        ...Array(SLOW).fill('slow'),
        ...Array(FAILED).fill('failed'),
      ];
      kinds.forEach((kind, i) => ids[kind].push(makeTrace(services, kind, base + i * 5)));
      // Leaf services first: each trace's root arrives last, in its own request.
      for (const name of ['inventory', 'checkout', 'frontend']) await services[name].flush();
    } finally {
      await Promise.all(Object.values(services).map((s) => s.shutdown()));
    }
  });

  after(async () => {
    await daemon?.cleanup();
  });

  async function fetchTrace(id) {
    const r = await httpGet(daemon.queryUrl(`/api/traces/${id}`));
    if (r.status === 404) return null;
    assert.equal(r.status, 200, `GET /api/traces/${id}: ${r.body}`);
    return r.json.data[0];
  }

  test('every failed and every slow trace is stored complete', async () => {
    for (const kind of ['failed', 'slow']) {
      for (const id of ids[kind]) {
        const stored = await pollUntil(
          `${kind} trace ${id} with 3 spans`,
          async (seen) => {
            const t = await fetchTrace(id);
            seen(t ? `${t.spans.length} spans` : '404');
            return t && t.spans.length === 3 ? t : undefined;
          },
          { daemon },
        );
        const root = stored.spans.find((s) => s.references.length === 0);
        assert.ok(root, `${kind} trace ${id} has a root span`);
        assert.equal(tagValue(root, 'sampling.policy'), kind === 'failed' ? 'errors' : 'slow');
        assert.equal(tagValue(root, 'sampling.rate'), 1);
        const services = Object.values(stored.processes).map((p) => p.serviceName).sort();
        assert.deepEqual(services, ['checkout', 'frontend', 'inventory']);
      }
    }
  });

  test('about 10% of the ordinary traces are kept, each complete, with sample rate 10', async () => {
    // All roots arrived together; wait until the sampler holds nothing any more.
    await pollUntil(
      'the sampler to decide every trace',
      async (seen) => {
        const { buffered } = await samplerProgress(daemon);
        seen(`tailtrace_sampler_traces_buffered=${buffered}`);
        return buffered === 0 ? true : undefined;
      },
      { daemon, timeoutMs: 15_000 },
    );
    let kept = 0;
    for (const id of ids.ordinary) {
      const t = await fetchTrace(id);
      if (!t) continue;
      kept += 1;
      assert.equal(t.spans.length, 3, `kept ordinary trace ${id} is complete`);
      const root = t.spans.find((s) => s.references.length === 0);
      assert.equal(tagValue(root, 'sampling.policy'), 'ten-percent');
      assert.equal(tagValue(root, 'sampling.rate'), 10);
    }
    assert.ok(
      kept >= LOW && kept <= HIGH,
      `kept ${kept} of ${ORDINARY} ordinary traces; expected ${LOW}..${HIGH} (10% +- 4.5 sigma)`,
    );
  });

  // Runs after the two tests above, which waited for every decision.
  test('trace summaries name the policy that kept each trace, and its rate', async () => {
    const summaries = await v3Summaries(daemon, {
      'query.service_name': 'frontend',
      'query.num_traces': 10_000,
    });
    const byId = new Map(summaries.map((s) => [s.traceId, s]));
    const expected = { failed: ['errors', 1], slow: ['slow', 1], ordinary: ['ten-percent', 10] };
    let checked = 0;
    for (const [kind, [policy, rate]] of Object.entries(expected)) {
      for (const id of ids[kind]) {
        const s = byId.get(id);
        if (!s) {
          assert.equal(kind, 'ordinary', `the ${kind} trace ${id} has a summary`);
          continue;
        }
        assert.equal(s.samplingPolicy, policy, `trace ${id}`);
        assert.equal(s.samplingRate, rate, `trace ${id}`);
        checked += 1;
      }
    }
    assert.ok(checked >= SLOW + FAILED, `${checked} summaries checked`);
  });

  // Runs after the decisions too. The decision is a fact of the whole trace: a search scoped to
  // checkout (never the root's service) finds it as the root spans show it.
  test('searching sampling.policy and sampling.rate finds exactly the traces they kept', async () => {
    const search = async (tags) =>
      (
        await jaegerSearch(daemon, {
          service: 'checkout',
          tags: JSON.stringify(tags),
          limit: 1000,
          lookback: '2h',
        })
      ).ids.sort();
    assert.deepEqual(await search({ 'sampling.policy': 'errors' }), [...ids.failed].sort());
    assert.deepEqual(await search({ 'sampling.policy': 'slow' }), [...ids.slow].sort());
    const summaries = await v3Summaries(daemon, {
      'query.service_name': 'frontend',
      'query.num_traces': 10_000,
    });
    const tenPercent = summaries.filter((s) => s.samplingRate === 10).map((s) => s.traceId);
    assert.ok(tenPercent.length >= LOW, `${tenPercent.length} traces kept by ten-percent`);
    assert.deepEqual(await search({ 'sampling.rate': '10' }), tenPercent.sort());
    assert.deepEqual(await search({ 'sampling.policy': 'errors', 'sampling.rate': '10' }), []);
  });

  test('the decisions are counted per policy in /metrics', async () => {
    const text = (await httpGet(daemon.adminUrl('/metrics'))).body;
    // name{labels} value lines of the decision counter, labels in any order.
    const counts = [];
    for (const line of text.split('\n')) {
      const m = line.match(/^otelcol_processor_tail_sampling_count_traces_sampled\{([^}]*)\} (\d+)/);
      if (!m) continue;
      const labels = Object.fromEntries(
        [...m[1].matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]),
      );
      counts.push({ labels, value: Number(m[2]) });
    }
    const sampled = (policy, value) =>
      counts
        .filter((c) => c.labels.policy === policy && c.labels.sampled === value)
        .reduce((sum, c) => sum + c.value, 0);
    assert.ok(sampled('errors', 'true') >= FAILED, text);
    assert.ok(sampled('slow', 'true') >= SLOW, text);
    const total = (policy) => sampled(policy, 'true') + sampled(policy, 'false');
    assert.equal(total('ten-percent'), TOTAL, 'every trace was evaluated by the probabilistic policy');
  });

  // Span metrics count every span before sampling: N calls per service, not N/10.
  test('span metrics count every span of every trace, kept or not', async () => {
    const samples = await readMetrics(daemon);
    const calls = (labels) => metricSum(samples, 'traces_span_metrics_calls_total', labels);
    const server = { span_kind: 'SPAN_KIND_SERVER' };
    assert.equal(calls({ ...server, service_name: 'frontend', span_name: 'GET /checkout' }), TOTAL);
    assert.equal(calls({ ...server, service_name: 'checkout', span_name: 'checkout.Submit' }), TOTAL);
    const reserve = { ...server, service_name: 'inventory', span_name: 'inventory.Reserve' };
    assert.equal(calls({ ...reserve, status_code: 'STATUS_CODE_ERROR' }), FAILED);
    assert.equal(calls({ ...reserve, status_code: 'STATUS_CODE_UNSET' }), TOTAL - FAILED);
    assert.equal(calls({}), 3 * TOTAL, 'no other spans were counted');
    // inventory.Reserve lasts 260 ms, or 2,460 ms in the slow traces.
    const bucket = (le) =>
      metricSum(samples, 'traces_span_metrics_duration_milliseconds_bucket', { ...reserve, le });
    assert.equal(bucket('200'), 0);
    assert.equal(bucket('400'), ORDINARY + FAILED);
    assert.equal(bucket('2000'), ORDINARY + FAILED);
    assert.equal(bucket('5000'), TOTAL);
    assert.equal(
      metricSum(samples, 'traces_span_metrics_duration_milliseconds_count', reserve),
      TOTAL,
    );
  });

  // The service graph counts the calls of every trace, kept or not: N per edge, not N/10; and the
  // failed ones (an ERROR inventory span) on /metrics and in /api/dependencies alike.
  test('/api/dependencies and the service graph metrics count every call', async () => {
    const links = await pollUntil(
      `${TOTAL} calls per edge in /api/dependencies`,
      async (seen) => {
        const body = await getJson(
          daemon.queryUrl(`/api/dependencies?endTs=${Date.now()}&lookback=3600000`),
        );
        const found = body.data.map((d) => [d.parent, d.child, d.callCount, d.errorCount]);
        seen(JSON.stringify(found));
        return found.length === 2 && found.every((l) => l[2] === TOTAL) ? found : undefined;
      },
      { daemon, timeoutMs: 15_000 },
    );
    // errorCount: the failed calls, as traces_service_graph_request_failed_total counts them.
    assert.deepEqual(links, [
      ['checkout', 'inventory', TOTAL, FAILED],
      ['frontend', 'checkout', TOTAL, 0],
    ]);
    const samples = await readMetrics(daemon);
    const edge = (name, client, server) => metricSum(samples, name, { client, server });
    assert.equal(edge('traces_service_graph_request_total', 'frontend', 'checkout'), TOTAL);
    assert.equal(edge('traces_service_graph_request_total', 'checkout', 'inventory'), TOTAL);
    assert.equal(edge('traces_service_graph_request_failed_total', 'checkout', 'inventory'), FAILED);
    assert.equal(edge('traces_service_graph_request_failed_total', 'frontend', 'checkout'), 0);
  });

  // What the Jaeger UI's Monitor tab asks (its URL shape), with ratePer covering the whole run:
  // rate x ratePer is then the exact number of calls.
  async function monitor(metric, service, extra = '') {
    const endTs = Date.now() + 1000;
    const url =
      `/api/metrics/${metric}?service=${service}&endTs=${endTs}&lookback=60000&step=60000` +
      `&ratePer=3600000&spanKind=server${extra}`;
    const r = await httpGet(daemon.queryUrl(url));
    assert.equal(r.status, 200, `GET ${url}: ${r.body}`);
    return r.json;
  }
  const lastValue = (family) => {
    const points = family.metrics[0]?.metricPoints ?? [];
    return points.at(-1)?.gaugeValue.doubleValue;
  };
  const callsNow = async (service) => (lastValue(await monitor('calls', service)) ?? 0) * 3600;

  async function expectMonitorCountsEverySpan() {
    const frontend = await pollUntil(
      `the Monitor API to count ${TOTAL} frontend calls`,
      async (seen) => {
        const calls = await callsNow('frontend');
        seen(`${calls} calls`);
        return Math.round(calls) === TOTAL ? calls : undefined;
      },
      { daemon, timeoutMs: 15_000 },
    );
    assert.ok(Math.abs(frontend - TOTAL) < 1e-6, `${frontend}`);
    const calls = await monitor('calls', 'inventory', '&groupByOperation=true');
    assert.equal(calls.name, 'service_operation_call_rate');
    assert.deepEqual(calls.metrics[0].labels, [
      { name: 'service_name', value: 'inventory' },
      { name: 'operation', value: 'inventory.Reserve' },
    ]);
    assert.ok(Math.abs(lastValue(calls) * 3600 - TOTAL) < 1e-6);
    const errors = await monitor('errors', 'inventory');
    assert.equal(errors.name, 'service_error_rate');
    assert.ok(Math.abs(lastValue(errors) - FAILED / TOTAL) < 1e-9, JSON.stringify(errors));
    // inventory.Reserve: 260 ms in 425 traces, 2,460 ms in 25. Quantiles are interpolated within
    // the bucket holding them (docs/metrics.md): p50 in (200, 400], p95 in (2000, 5000].
    const p50 = lastValue(await monitor('latencies', 'inventory', '&quantile=0.5'));
    assert.ok(p50 > 200 && p50 <= 400, `p50 ${p50}`);
    const p95 = await monitor('latencies', 'inventory', '&quantile=0.95');
    assert.equal(p95.help, '0.95th quantile latency, grouped by service');
    assert.ok(lastValue(p95) > 2000 && lastValue(p95) <= 5000, JSON.stringify(p95));
  }

  test('the Monitor API (/api/metrics) counts every span, before sampling', async () => {
    await expectMonitorCountsEverySpan();
  });

  test('the metrics history survives a restart', async () => {
    await daemon.stop();
    await daemon.restart();
    // Nothing new was counted since: the history alone answers.
    assert.ok(Math.abs((await callsNow('frontend')) - TOTAL) < 1e-6);
    await expectMonitorCountsEverySpan();
  });

  test('services and operations of the sampled traces are listed', async () => {
    const services = await getJson(daemon.queryUrl('/api/services'));
    assert.deepEqual([...services.data].sort(), ['checkout', 'frontend', 'inventory']);
  });
});
