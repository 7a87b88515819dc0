// End-to-end search tests: real OpenTelemetry JS SDK clients (three services, parented across
// services through context propagation) send checkout traces to a running tailtraced; then the
// search APIs must find slow traces by service + minDuration, a user's traces by attribute, failed
// traces by error=true, and the dependencies between the services.
//
// Run from the repo root:
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/search.test.mjs

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { getJson, pollJaegerTrace, pollUntil, startDaemon } from './lib/daemon.mjs';
import {
  buildSearchCheckout,
  CHECKOUTS,
  expectBadRequest,
  jaegerSearch,
  v3Search,
  v3Summaries,
  withQuery,
} from './lib/search.mjs';
import { Timeline } from './lib/scenario.mjs';
import { ServiceClient } from './lib/sdk.mjs';

const MS = 1_000_000;

describe('trace search with OpenTelemetry JS SDK clients', () => {
  let daemon;
  let ids; // trace IDs in CHECKOUTS order

  before(async () => {
    daemon = await startDaemon();
    const make = (serviceName) =>
      new ServiceClient({ serviceName, protocol: 'http/protobuf', endpoints: daemon.endpoints });
    const services = {
      frontend: make('frontend'),
      checkout: make('checkout'),
      inventory: make('inventory'),
    };
    try {
      const t = new Timeline();
      ids = CHECKOUTS.map((c, i) => buildSearchCheckout(services, t, i, c));
      // Leaf services first, so each trace is whole before its root arrives.
      for (const name of ['inventory', 'checkout', 'frontend']) await services[name].flush();
    } finally {
      await Promise.all(Object.values(services).map((s) => s.shutdown()));
    }
    // Readable once the tail sampler decided them.
    for (const id of ids) await pollJaegerTrace(daemon, id, 3);
  });

  after(async () => {
    await daemon?.cleanup();
  });

  test('slow traces are found by service and minDuration, newest first', async () => {
    const slow = await jaegerSearch(daemon, { service: 'inventory', minDuration: '3s' });
    assert.deepEqual(slow.ids, [ids[3], ids[1]]);
    // Whole traces come back, not just the matching span.
    for (const t of slow.traces) assert.equal(t.spans.length, 3);
    const byOperation = await jaegerSearch(daemon, {
      service: 'inventory',
      operation: 'GET /inventory/reserve',
      minDuration: '3.6s',
    });
    assert.deepEqual(byOperation.ids, [ids[3]]);
    const between = await jaegerSearch(daemon, {
      service: 'inventory',
      minDuration: '100ms',
      maxDuration: '4s',
    });
    assert.deepEqual(between.ids, [ids[2], ids[1]]);
    const v3 = await v3Search(daemon, {
      'query.service_name': 'inventory',
      'query.duration_min': '3s',
    });
    assert.deepEqual(v3.ids, [ids[3], ids[1]]);
  });

  test("a user's traces are found by attribute", async () => {
    const json = await jaegerSearch(daemon, {
      service: 'frontend',
      tags: JSON.stringify({ 'user.id': 'alice' }),
    });
    assert.deepEqual(json.ids, [ids[2], ids[0]]);
    const kv = await jaegerSearch(daemon, { service: 'frontend', tag: 'user.id:bob' });
    assert.deepEqual(kv.ids, [ids[1]]);
    // Without a service the attribute index over every service is used.
    const anyService = await jaegerSearch(daemon, { tag: 'user.id:carol' });
    assert.deepEqual(anyService.ids, [ids[3]]);
    const v3 = await v3Search(daemon, {
      'query.serviceName': 'frontend',
      'query.attributes': JSON.stringify({ 'user.id': 'alice' }),
    });
    assert.deepEqual(v3.ids, [ids[2], ids[0]]);
    // The attribute is on the frontend span, not on inventory's.
    const wrongService = await jaegerSearch(daemon, { service: 'inventory', tag: 'user.id:alice' });
    assert.deepEqual(wrongService.ids, []);
  });

  test('failed traces are found by error=true', async () => {
    const failed = await jaegerSearch(daemon, { tags: JSON.stringify({ error: 'true' }) });
    assert.deepEqual(failed.ids, [ids[2]]);
    const inCheckout = await jaegerSearch(daemon, { service: 'checkout', tag: 'error:true' });
    assert.deepEqual(inCheckout.ids, [ids[2]]);
    // The error is in the checkout service, so a frontend-scoped search does not match.
    const inFrontend = await jaegerSearch(daemon, { service: 'frontend', tag: 'error:true' });
    assert.deepEqual(inFrontend.ids, []);
    // A failed checkout of alice's: tags AND-ed across spans.
    const both = await jaegerSearch(daemon, { tag: ['error:true', 'user.id:alice'] });
    assert.deepEqual(both.ids, [ids[2]]);
  });

  test('limit keeps the newest and an unknown service is an empty result', async () => {
    const two = await jaegerSearch(daemon, { service: 'frontend', limit: 2 });
    assert.deepEqual(two.ids, [ids[3], ids[2]]);
    const none = await jaegerSearch(daemon, { service: 'no-such-service' });
    assert.deepEqual(none.ids, []);
  });

  test('trace summaries list the traces without their spans', async () => {
    const summaries = await v3Summaries(daemon, {
      'query.service_name': 'inventory',
      'query.duration_min': '3s',
    });
    assert.deepEqual(
      summaries.map((s) => s.traceId),
      [ids[3], ids[1]],
    );
    const s = summaries[0];
    assert.equal(s.rootServiceName, 'frontend');
    assert.equal(s.rootOperationName, 'GET /checkout');
    assert.equal(s.spanCount, 3);
    assert.equal(s.errorSpanCount, 0);
    assert.deepEqual(
      s.services.map((x) => [x.name, x.spanCount]),
      [
        ['checkout', 1],
        ['frontend', 1],
        ['inventory', 1],
      ],
    );
    const durationNs = BigInt(s.maxEndTimeUnixNano) - BigInt(s.minStartTimeUnixNano);
    assert.equal(durationNs, BigInt((4_200 + 4) * MS));
  });

  test('tag suggestions list the keys and values the search matches', async () => {
    const tagKeys = async (params) =>
      (await getJson(daemon.queryUrl(withQuery('/api/v3/tag-keys', params)))).tagKeys;
    const tagValues = async (params) =>
      (await getJson(daemon.queryUrl(withQuery('/api/v3/tag-values', params)))).tagValues;
    // The SDK adds resource and scope tags of its own: check only for the ones this test set.
    const frontend = await tagKeys({ service: 'frontend' });
    assert.deepEqual(frontend, [...frontend].sort());
    for (const key of ['user.id', 'span.kind']) assert.ok(frontend.includes(key), key);
    assert.ok(!frontend.includes('error'), 'no frontend span failed');
    const checkout = await tagKeys({ service: 'checkout' });
    for (const key of ['error', 'otel.status_code', 'otel.status_description']) {
      assert.ok(checkout.includes(key), key);
    }
    assert.deepEqual(await tagValues({ key: 'user.id', service: 'frontend' }), [
      'alice',
      'bob',
      'carol',
    ]);
    assert.deepEqual(await tagValues({ key: 'user.id', limit: 2 }), ['alice', 'bob']);
    assert.deepEqual(await tagValues({ key: 'otel.status_code' }), ['ERROR']);
    assert.deepEqual(await tagValues({ key: 'span.kind', service: 'inventory' }), ['server']);
    const r = await expectBadRequest(daemon.queryUrl(withQuery('/api/v3/tag-values', {})));
    assert.match(r.json.error.message, /parameter key/);
  });

  // The service graph counts the calls when each trace is decided, and the store has them within
  // one flush of the metrics history (10 s at most).
  test('dependencies count the calls between the services', async () => {
    const links = await pollUntil(
      'the calls of every trace in /api/dependencies',
      async (seen) => {
        const body = await getJson(
          daemon.queryUrl(withQuery('/api/dependencies', { endTs: Date.now(), lookback: 3_600_000 })),
        );
        const found = body.data.map((d) => [d.parent, d.child, d.callCount, d.errorCount]);
        seen(JSON.stringify(found));
        return found.length === 2 && found.every((l) => l[2] === 4) ? found : undefined;
      },
      { daemon, timeoutMs: 20_000 },
    );
    // One checkout failed: its span's status is ERROR, so the call frontend -> checkout failed.
    assert.deepEqual(links, [
      ['checkout', 'inventory', 4, 0],
      ['frontend', 'checkout', 4, 1],
    ]);
    const onlyInventory = await getJson(
      daemon.queryUrl(
        withQuery('/api/dependencies', {
          endTs: Date.now(),
          lookback: 3_600_000,
          service: 'inventory',
        }),
      ),
    );
    assert.deepEqual(
      onlyInventory.data.map((d) => [d.parent, d.child]),
      [['checkout', 'inventory']],
    );
  });

  test('bad parameters are a 400 naming the parameter', async () => {
    const traces = (params) => daemon.queryUrl(withQuery('/api/traces', params));
    let r = await expectBadRequest(traces({ service: 'inventory', minDuration: 'slow' }));
    assert.match(r.json.errors[0].msg, /minDuration/);
    r = await expectBadRequest(traces({ service: 'inventory', minDuration: '2s', maxDuration: '1s' }));
    assert.match(r.json.errors[0].msg, /maxDuration/);
    r = await expectBadRequest(
      daemon.queryUrl(withQuery('/api/v3/traces', { 'query.start_time_min': 'yesterday' })),
    );
    assert.match(r.json.error.message, /query\.start_time_min/);
  });
});
