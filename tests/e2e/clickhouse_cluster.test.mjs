// End-to-end tests of the ClickHouse backend: two tailtraced cluster nodes sharing one database of a
// private clickhouse-server (lib/clickhouse.mjs). See clickhouse.test.mjs for the single daemon.
// Two cluster nodes sharing one database: every trace, sent in parts to both nodes, is
// whole and stored once (by its owner) and reads the same from both nodes.
//
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/clickhouse_cluster.test.mjs
//   (TAILTRACE_CLICKHOUSE_SERVER=/path/to/clickhouse-server overrides the server binary)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { checkJaegerTrace, checkV3Trace } from './lib/checks.mjs';
import { startClickHouse, clickhouseStorageYaml, rowsPerTrace } from './lib/clickhouse.mjs';
import {
  awaitClusterFormed,
  metricSum,
  ownerOf,
  readMetrics,
  startCluster,
} from './lib/cluster.mjs';
import { getJson, pollJaegerTrace, pollV3Trace } from './lib/daemon.mjs';
import { Timeline } from './lib/scenario.mjs';
import { jaegerSearch } from './lib/search.mjs';
import { ServiceClient, makeQueryTrace } from './lib/sdk.mjs';

describe('storage.backend: clickhouse', () => {
  let ch;

  before(async () => {
    ch = await startClickHouse();
  });

  after(async () => {
    await ch?.cleanup();
  });

  // ---------------------------------------------------------------------------------------------
  describe('two cluster nodes sharing one ClickHouse database', () => {
    const DATABASE = 'e2e_cluster';
    const PREFIX = 'ring_';
    const HOSTS = ['127.0.0.41', '127.0.0.42'];
    const TRACES_PER_OWNER = 6;
    const SPANS_PER_TRACE = 4;
    let cluster; // { port, members, nodes: [{ host, member, daemon }] }
    let clients; // ring-web over gRPC to node 1, ring-db over HTTP/JSON to node 2
    const traces = []; // { traceId, owner }
    let expected; // traceId -> expected spans

    const node = (i) => cluster.nodes[i].daemon;

    before(async () => {
      // Both nodes start at once: each creates the (same) schema IF NOT EXISTS.
      cluster = await startCluster(HOSTS, {
        decisionWait: '1s',
        storageYaml: clickhouseStorageYaml(ch, DATABASE, { tablePrefix: PREFIX }),
        clusterOptions: { peerTimeout: '2s', queryTimeout: '2s' },
      });
      // Every node sees both members live and the start-up handover (decision_wait) is over.
      await awaitClusterFormed(cluster, 2, 1000);
      clients = [
        new ServiceClient({
          serviceName: 'ring-web',
          protocol: 'grpc',
          endpoints: node(0).endpoints,
        }),
        new ServiceClient({
          serviceName: 'ring-db',
          protocol: 'http/json',
          endpoints: node(1).endpoints,
        }),
      ];
      // web: GET /ring (SERVER) -> query (CLIENT) -> db: SELECT (SERVER) -> scan (INTERNAL), until
      // each node owns TRACES_PER_OWNER traces.
      const perOwner = new Map(cluster.members.map((m) => [m, 0]));
      const t = new Timeline();
      const ms = 1_000_000;
      while (Math.min(...perOwner.values()) < TRACES_PER_OWNER) {
        const base = traces.length * 10 * ms;
        const [web, db] = clients.map((c) => c.tracer);
        const traceId = makeQueryTrace(web, db, t, base, {
          rootName: 'GET /ring',
          rootAttributes: { 'ring.n': traces.length },
          scanAttributes: { 'db.rows': 7 },
        });
        const owner = ownerOf(traceId, cluster.members);
        perOwner.set(owner, perOwner.get(owner) + 1);
        traces.push({ traceId, owner });
      }
      // The db parts first (to node 2), the roots last (to node 1): each flush resolves once the
      // owners hold the spans.
      await clients[1].flush();
      await clients[0].flush();
      expected = new Map();
      for (const span of clients.flatMap((c) => c.expectedSpans())) {
        if (!expected.has(span.traceId)) expected.set(span.traceId, []);
        expected.get(span.traceId).push(span);
      }
    });

    after(async () => {
      await Promise.all((clients ?? []).map((c) => c.shutdown().catch(() => {})));
      await Promise.all((cluster?.nodes ?? []).map(({ daemon }) => daemon.cleanup()));
    });

    test('every trace is whole and the same from both nodes (not doubled)', async () => {
      for (const { traceId } of traces) {
        const answers = [];
        for (let i = 0; i < 2; i++) {
          const body = await pollJaegerTrace(node(i), traceId, SPANS_PER_TRACE);
          checkJaegerTrace(body, traceId, expected.get(traceId));
          checkV3Trace(
            await pollV3Trace(node(i), traceId, SPANS_PER_TRACE),
            traceId,
            expected.get(traceId),
          );
          const spans = body.data[0].spans.map(({ processID, ...s }) => ({
            ...s,
            process: body.data[0].processes[processID],
          }));
          spans.sort((a, b) => (a.spanID < b.spanID ? -1 : 1));
          answers.push(JSON.stringify(spans));
        }
        assert.equal(answers[0], answers[1], `/api/traces/${traceId} differs between the nodes`);
      }
    });

    test('each trace was written once, by its owner', async () => {
      const ids = traces.map((t) => t.traceId);
      const rows = await rowsPerTrace(ch, DATABASE, ids, PREFIX);
      for (const id of ids) {
        assert.deepEqual(
          rows.get(id),
          { rows: SPANS_PER_TRACE, spans: SPANS_PER_TRACE, writes: 1 },
          `${DATABASE}.${PREFIX}span_index rows of trace ${id}`,
        );
      }
      // table_prefix: every table of the database is the prefix's.
      const tables = (await ch.query(`SHOW TABLES FROM ${DATABASE}`)).trim().split('\n');
      assert.deepEqual(
        tables.filter((name) => !name.startsWith(PREFIX)),
        [],
        tables.join(', '),
      );
      for (let i = 0; i < 2; i++) {
        const owned = traces.filter((t) => t.owner === cluster.members[i]).length;
        const metrics = await readMetrics(node(i));
        assert.deepEqual(
          {
            traces: metricSum(metrics, 'tailtrace_stored_traces_total'),
            spans: metricSum(metrics, 'tailtrace_stored_spans_total'),
          },
          { traces: owned, spans: owned * SPANS_PER_TRACE },
          `node ${i + 1} (${cluster.members[i]}) stores the traces it owns`,
        );
      }
    });

    test('searches and services answer the same from both nodes, each trace once', async () => {
      const all = traces.map((t) => t.traceId).sort();
      for (let i = 0; i < 2; i++) {
        for (const service of ['ring-web', 'ring-db']) {
          const found = await jaegerSearch(node(i), { service, limit: 1000 });
          assert.deepEqual(
            [...found.ids].sort(),
            all,
            `node ${i + 1}: /api/traces?service=${service}`,
          );
          for (const t of found.traces)
            assert.equal(t.spans.length, SPANS_PER_TRACE, `node ${i + 1}: ${t.traceID}`);
          assert.deepEqual(found.body.errors ?? [], []);
        }
        const byTag = await jaegerSearch(node(i), { service: 'ring-web', tag: 'ring.n:3' });
        assert.deepEqual(byTag.ids, [traces[3].traceId], `node ${i + 1}: search by tag`);
        const services = (await getJson(node(i).queryUrl('/api/services'))).data;
        assert.deepEqual(
          [...services].sort(),
          ['ring-db', 'ring-web'],
          `node ${i + 1}: /api/services`,
        );
        const operations = (
          await getJson(node(i).queryUrl('/api/services/ring-db/operations'))
        ).data.map((o) => (typeof o === 'string' ? o : o?.name));
        assert.deepEqual([...operations].sort(), ['SELECT', 'scan'], `node ${i + 1}: operations`);
      }
    });
  });
});
