// End-to-end tests of storage.clickhouse.cluster and insert_quorum: two tailtraced cluster nodes
// on a private ClickHouse cluster of two shards of two replicas and a ZooKeeper
// (lib/clickhouse_cluster.mjs). Node A's endpoint is server 0 (shard 1), node B's server 2
// (shard 2); both use cluster `tailtrace_test`, insert_quorum 2 and one database, so that their
// tables are ReplicatedMergeTree `<table>_local` behind Distributed tables sharded by trace ID.
// Every trace, sent in parts to both nodes, is whole, stored once and the same from both nodes;
// its rows are on the shard its ID hashes to, on both replicas of it as soon as the write is
// acknowledged. Then shard 1 loses a replica (server 1 SIGKILLed): reads go on, writes to shard 1
// cannot reach their quorum and clients are refused (backpressure, as in
// clickhouse_outage.test.mjs) rather than losing traces; once the replica is back, the refused
// traces sent again are stored and every acknowledged trace is whole, once. Last, tailtraced
// refuses to start with insert_quorum but no cluster, and with a cluster ClickHouse does not know.
//
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/clickhouse_replicated.test.mjs
//   (TAILTRACE_CLICKHOUSE_SERVER=/path/to/clickhouse-server overrides the server binary)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { checkJaegerTrace, checkV3Trace } from './lib/checks.mjs';
import { clickhouseStorageYaml, hex, rowsPerTrace } from './lib/clickhouse.mjs';
import { CLUSTER_NAME, startClickHouseCluster } from './lib/clickhouse_cluster.mjs';
import {
  awaitClusterFormed,
  metricSum,
  ownerOf,
  readMetrics,
  startCluster,
} from './lib/cluster.mjs';
import {
  httpGet,
  pollJaegerTrace,
  pollUntil,
  pollV3Trace,
  startDaemon,
  truncate,
} from './lib/daemon.mjs';
import {
  TRANSPORTS,
  assertBackpressure,
  exportOnce,
  makeOrderTrace,
} from './lib/otlp_requests.mjs';
import { Timeline } from './lib/scenario.mjs';
import { ServiceClient, makeQueryTrace, toExpectedSpan } from './lib/sdk.mjs';

const ms = 1_000_000;

describe('storage.clickhouse.cluster: two shards of two replicas', () => {
  let chc; // the ClickHouse cluster: chc.servers[0..3], shard 1 = servers 0 and 1

  const server = (i) => chc.servers[i];

  before(async () => {
    chc = await startClickHouseCluster();
  });

  after(async () => {
    await chc?.cleanup();
  });

  // The shard (1 or 2) each trace's rows go to, asked of ClickHouse: the Distributed tables shard
  // by cityHash64(trace_id) over two shards of weight 1 (storage/clickhouse/schema.cc).
  async function shardsOf(traceIds) {
    const ids = traceIds.map((id) => `toFixedString(${hex(id)}, 16)`).join(', ');
    const rows = await server(0).rows(
      `SELECT lower(hex(id)) AS trace, cityHash64(id) % 2 + 1 AS shard ` +
        `FROM (SELECT arrayJoin([${ids}]) AS id)`,
    );
    return new Map(rows.map((r) => [r.trace, Number(r.shard)]));
  }

  // ---------------------------------------------------------------------------------------------
  describe('two tailtraced nodes, insert_quorum 2', () => {
    const DATABASE = 'e2e_replicated';
    const HOSTS = ['127.0.0.51', '127.0.0.52'];
    // Node A writes through shard 1's first replica, node B through shard 2's.
    const ENDPOINT_SERVERS = [0, 2];
    // Traces of each (owner, shard) pair: both nodes write to both shards.
    const PER_OWNER_AND_SHARD = 3;
    const SPANS_PER_TRACE = 4;
    let cluster; // { port, members, nodes: [{ host, member, daemon }] }
    let clients; // repl-web over gRPC to node A, repl-db over HTTP/protobuf to node B
    const traces = []; // { traceId, owner, shard, expected }
    // The backpressure part's traces, one request each: { traceId, node, transport, phase,
    // acked, status, message, ..., spans, expected }
    const sent = [];
    const memory = new InMemorySpanExporter();
    const provider = new BasicTracerProvider({
      resource: defaultResource().merge(resourceFromAttributes({ 'service.name': 'repl-app' })),
      spanProcessors: [new SimpleSpanProcessor(memory)],
    });
    const tracer = provider.getTracer('e2e.replicated', '1.0.0');

    const node = (i) => cluster.nodes[i].daemon;
    const spansLocal = async (i) =>
      Number((await server(i).query(`SELECT count() FROM ${DATABASE}.spans_local`)).trim());

    before(async () => {
      // Both nodes start at once: each finds the schema missing and creates it ON CLUSTER (IF NOT
      // EXISTS), each through its own server.
      cluster = await startCluster(HOSTS, (i) => ({
        decisionWait: '1s',
        storageYaml: clickhouseStorageYaml(server(ENDPOINT_SERVERS[i]), DATABASE, {
          cluster: CLUSTER_NAME,
          insertQuorum: 2,
        }),
        clusterOptions: { peerTimeout: '2s', queryTimeout: '2s' },
      }));
      await awaitClusterFormed(cluster, 2, 1000);
      clients = [
        new ServiceClient({
          serviceName: 'repl-web',
          protocol: 'grpc',
          endpoints: node(0).endpoints,
        }),
        new ServiceClient({
          serviceName: 'repl-db',
          protocol: 'http/protobuf',
          endpoints: node(1).endpoints,
        }),
      ];
      // web: GET /replica (SERVER) -> query (CLIENT) -> db: SELECT (SERVER) -> scan (INTERNAL), in
      // rounds of 8 until each node owns PER_OWNER_AND_SHARD traces of each shard.
      const t = new Timeline();
      const count = (owner, shard) =>
        traces.filter((x) => x.owner === owner && x.shard === shard).length;
      const enough = () =>
        cluster.members.every((m) => [1, 2].every((s) => count(m, s) >= PER_OWNER_AND_SHARD));
      for (let round = 0; !enough(); round++) {
        assert.ok(round < 20, 'traces keep landing on the same owners and shards');
        const ids = [];
        for (let k = 0; k < 8; k++) {
          const base = (traces.length + ids.length) * 10 * ms;
          const [web, db] = clients.map((c) => c.tracer);
          ids.push(
            makeQueryTrace(web, db, t, base, {
              rootName: 'GET /replica',
              rootAttributes: { 'repl.n': ids.length },
            }),
          );
        }
        const shards = await shardsOf(ids);
        for (const traceId of ids) {
          traces.push({
            traceId,
            owner: ownerOf(traceId, cluster.members),
            shard: shards.get(traceId),
          });
        }
      }
      // The db parts first (to node B), the roots last (to node A).
      await clients[1].flush();
      await clients[0].flush();
      for (const x of traces) {
        x.expected = clients
          .flatMap((c) => c.expectedSpans())
          .filter((s) => s.traceId === x.traceId);
      }
    });

    after(async () => {
      // With a shard's quorum still missing after a failure, SIGTERM would wait for the store.
      if (!chc?.servers.every((s) => s.running)) {
        await Promise.all((cluster?.nodes ?? []).map(({ daemon }) => daemon.kill()));
      }
      await Promise.all((clients ?? []).map((c) => c.shutdown().catch(() => {})));
      await provider.shutdown();
      await Promise.all((cluster?.nodes ?? []).map(({ daemon }) => daemon.cleanup()));
    });

    test('every trace is whole, stored once and the same from both nodes', async () => {
      for (const { traceId, expected } of traces) {
        const answers = [];
        for (let i = 0; i < 2; i++) {
          const body = await pollJaegerTrace(node(i), traceId, SPANS_PER_TRACE);
          checkJaegerTrace(body, traceId, expected);
          checkV3Trace(await pollV3Trace(node(i), traceId, SPANS_PER_TRACE), traceId, expected);
          const spans = body.data[0].spans.map(({ processID, ...s }) => ({
            ...s,
            process: body.data[0].processes[processID],
          }));
          spans.sort((a, b) => (a.spanID < b.spanID ? -1 : 1));
          answers.push(JSON.stringify(spans));
        }
        assert.equal(answers[0], answers[1], `/api/traces/${traceId} differs between the nodes`);
      }
      // No write failed (a failed INSERT may leave rows, and its node refuses data meanwhile).
      for (let i = 0; i < 2; i++) {
        const failed = /store write of \d+ traces failed.*/.exec(node(i).stderr);
        assert.ok(!failed, `node ${i}, every ClickHouse server up: ${failed?.[0]}`);
      }
      // Through the Distributed table: each trace one write of its spans, by its owner.
      const ids = traces.map((x) => x.traceId);
      const rows = await rowsPerTrace(server(0), DATABASE, ids);
      for (const id of ids) {
        assert.deepEqual(
          rows.get(id),
          { rows: SPANS_PER_TRACE, spans: SPANS_PER_TRACE, writes: 1 },
          `${DATABASE}.span_index rows of trace ${id}`,
        );
      }
    });

    test('the rows are on the shard of their trace ID, on both of its replicas', async () => {
      // Once both nodes count every span stored, every write was acknowledged: with
      // insert_quorum 2, both replicas of its shard hold it (nothing to wait for).
      const total = traces.length * SPANS_PER_TRACE;
      await pollUntil('the nodes to count every span stored', async (seen) => {
        const metrics = await Promise.all([0, 1].map((i) => readMetrics(node(i))));
        const stored = metrics.map((m) => metricSum(m, 'tailtrace_stored_spans_total'));
        seen(`stored spans per node: ${stored.join(', ')} of ${total}`);
        return stored[0] + stored[1] === total ? true : undefined;
      });
      // Rows per server: both replicas of a shard hold the spans of the traces whose IDs hash to
      // it (both shards have some: PER_OWNER_AND_SHARD), the shards' rows sum to every span.
      const counts = await Promise.all([0, 1, 2, 3].map(spansLocal));
      const spansOn = (shard) => traces.filter((x) => x.shard === shard).length * SPANS_PER_TRACE;
      assert.deepEqual(
        counts,
        [spansOn(1), spansOn(1), spansOn(2), spansOn(2)],
        `${DATABASE}.spans_local rows on servers 0-3 (of ${total} spans)`,
      );
      for (const [shard, i] of [
        [1, 0],
        [2, 2],
      ]) {
        const held = (
          await server(i).query(
            `SELECT DISTINCT lower(hex(trace_id)) FROM ${DATABASE}.spans_local FORMAT TSV`,
          )
        )
          .trim()
          .split('\n')
          .sort();
        assert.deepEqual(
          held,
          traces
            .filter((x) => x.shard === shard)
            .map((x) => x.traceId)
            .sort(),
          `the traces in shard ${shard}'s ${DATABASE}.spans_local`,
        );
      }
    });

    // ---------------------------------------------------------------------------------------------
    // Shard 1 loses its second replica.

    // A three-span trace (SERVER -> CLIENT -> INTERNAL with an event) owned by node `i`; returns
    // its ReadableSpans. The trace is sent to its owner, whose store writes it, so that the node
    // refusing is the one whose writes failed.
    function makeTraceOwnedBy(i, phase) {
      for (;;) {
        const spans = makeOrderTrace(tracer, memory, phase);
        if (ownerOf(spans[0].spanContext().traceId, cluster.members) === cluster.members[i]) {
          return spans;
        }
      }
    }

    // Sends one new trace to node `i` over `transport`; records and returns the answer.
    async function send(phase, i, transport) {
      const spans = makeTraceOwnedBy(i, phase);
      const record = {
        traceId: spans[0].spanContext().traceId,
        node: i,
        transport,
        phase,
        ...(await exportOnce(node(i).endpoints, transport, spans)),
        spans,
        expected: spans.map(toExpectedSpan),
      };
      sent.push(record);
      return record;
    }

    // Where each node's log was when server 1 was killed.
    const logAtKill = [0, 0];

    const describeSent = (list) =>
      list
        .map(
          (s) =>
            `${s.phase}/node ${s.node}/${s.transport}: ` +
            (s.acked ? 'acked' : `${s.status} ${truncate(s.message, 200)}`),
        )
        .join('\n');

    test('server 1 killed: both nodes still read every trace whole', async () => {
      for (let i = 0; i < 2; i++) logAtKill[i] = node(i).stderr.length;
      await server(1).kill();
      // Not polled: a read must not fail while shard 1 has a replica.
      for (const { traceId, expected } of traces) {
        for (let i = 0; i < 2; i++) {
          const r = await httpGet(node(i).queryUrl(`/api/traces/${traceId}`));
          assert.equal(r.status, 200, `node ${i}: GET /api/traces/${traceId}: ${truncate(r.body)}`);
          checkJaegerTrace(r.json, traceId, expected);
        }
      }
    });

    test('writes to shard 1 lack their quorum: clients are refused with 503 / UNAVAILABLE naming ClickHouse', async (t) => {
      // Every trace is acknowledged until an INSERT into shard 1 failed (the first after the
      // insert_quorum_timeout, the next at once); then its node refuses.
      let n = 0;
      await pollUntil(
        'a refusal from each node',
        async (seen) => {
          await send('outage', n % 2, TRANSPORTS[Math.floor(n / 2) % TRANSPORTS.length]);
          n += 1;
          seen(describeSent(sent.slice(-4)));
          return new Set(sent.filter((s) => !s.acked).map((s) => s.node)).size === 2
            ? true
            : undefined;
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      const refused = sent.filter((s) => !s.acked);
      t.diagnostic(
        `${sent.length - refused.length} traces acknowledged, ${refused.length} refused`,
      );
      for (const s of refused) {
        const what = describeSent([s]);
        assertBackpressure(s, /INSERT into ClickHouse failed/, what);
      }
      for (let i = 0; i < 2; i++) {
        // ClickHouse's reason: "Timeout while waiting for quorum", "Quorum for previous write has
        // not been satisfied yet", "Number of alive replicas (1) is less than requested quorum".
        const log = node(i).stderr.slice(logAtKill[i]);
        const failure =
          /store write of \d+ traces failed, will retry: ClickHouse\b.*quorum.*/i.exec(log);
        const failures = log.match(/store write of .*/g) ?? [];
        assert.ok(failure, `node ${i}'s failed writes:\n${failures.join('\n')}`);
        t.diagnostic(`node ${i}: ${truncate(failure[0], 300)}`);
        const metrics = await readMetrics(node(i));
        assert.equal(
          metricSum(metrics, 'tailtrace_admission_refused_spans_total', { cause: 'store' }),
          refused.filter((s) => s.node === i).reduce((sum, s) => sum + s.spans.length, 0),
          `node ${i}: refused spans`,
        );
      }
    });

    test('server 1 back: the refused traces sent again are stored, every acknowledged trace whole and once', async (t) => {
      // A replica started while ZooKeeper still holds its killed process's session (its
      // `is_active` node) tries to become active again only 10 s later: start it once the
      // session expired (lib/clickhouse_cluster.mjs's ZOOKEEPER_SESSION_TIMEOUT_MS).
      const replicaPath = `/clickhouse/tables/01/${DATABASE}.spans/replicas/${server(1).replica}`;
      await pollUntil(
        "ZooKeeper to drop server 1's session",
        async (seen) => {
          const active = (
            await server(0).query(
              `SELECT count() FROM system.zookeeper WHERE path = '${replicaPath}' ` +
                `AND name = 'is_active'`,
            )
          ).trim();
          seen(`is_active nodes: ${active}`);
          return active === '0' ? true : undefined;
        },
        { timeoutMs: 20_000 },
      );
      const startedAt = Date.now();
      await server(1).start();
      // The client sends every refused trace again (to the same node, over the same transport)
      // until it is acknowledged: once shard 1's quorum is back, the nodes' retried writes
      // succeed and they take data again.
      const refused = sent.filter((s) => !s.acked);
      await pollUntil(
        'every refused trace to be acknowledged when sent again',
        async (seen) => {
          for (const s of refused.filter((x) => !x.resent)) {
            const answer = await exportOnce(node(s.node).endpoints, s.transport, s.spans);
            if (!answer.acked) {
              seen(describeSent([{ ...s, ...answer }]));
              return undefined;
            }
            s.resent = true;
          }
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
      t.diagnostic(`writes taken again ${Date.now() - startedAt} ms after server 1 started`);

      const all = [...traces, ...sent.map((s) => ({ traceId: s.traceId, expected: s.expected }))];
      for (const { traceId, expected } of all) {
        for (let i = 0; i < 2; i++) {
          const body = await pollJaegerTrace(node(i), traceId, expected.length, {
            timeoutMs: 20_000,
          });
          checkJaegerTrace(body, traceId, expected);
        }
      }
      // Each trace one write of its spans. A failed INSERT may have left rows (on shard 2, or on
      // server 0 before the quorum timed out), which its retry, keeping the write IDs, wrote
      // again: reads skip those copies.
      const rows = await rowsPerTrace(
        server(0),
        DATABASE,
        all.map((x) => x.traceId),
      );
      let copied = 0;
      for (const { traceId, expected } of all) {
        const r = rows.get(traceId);
        assert.deepEqual(
          { spans: r?.spans, writes: r?.writes },
          { spans: expected.length, writes: 1 },
          `${DATABASE}.span_index rows of trace ${traceId}: ${JSON.stringify(r)}`,
        );
        if (r.rows > r.spans) copied += 1;
      }
      t.diagnostic(`${all.length} traces stored; ${copied} with rows of a failed INSERT too`);
      // Server 1 catches up with what shard 1 stored while it was down.
      await pollUntil(
        'both replicas of each shard to hold the same rows',
        async (seen) => {
          const counts = await Promise.all([0, 1, 2, 3].map(spansLocal));
          seen(`${DATABASE}.spans_local rows on servers 0-3: ${counts.join(', ')}`);
          return counts[0] === counts[1] && counts[2] === counts[3] ? true : undefined;
        },
        { timeoutMs: 15_000 },
      );
      for (let i = 0; i < 2; i++) {
        const exit = await node(i).stop();
        assert.deepEqual(
          { code: exit.code, signal: exit.signal },
          { code: 0, signal: null },
          node(i).stderrTail(),
        );
      }
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('configurations tailtraced refuses', () => {
    test('insert_quorum without cluster: tailtraced does not start, naming storage.clickhouse.insert_quorum', async () => {
      const DATABASE = 'e2e_quorum_alone';
      await assert.rejects(
        startDaemon({
          storageYaml: clickhouseStorageYaml(server(0), DATABASE, { insertQuorum: 2 }),
        }),
        (err) => {
          assert.match(err.message, /tailtraced exited with code [1-9]\d* before it was ready/);
          assert.match(err.message, /stderr: [^]*storage\.clickhouse\.insert_quorum/);
          return true;
        },
      );
      // Refused before it reached ClickHouse.
      const databases = await server(0).query(
        `SELECT count() FROM system.databases WHERE name = '${DATABASE}'`,
      );
      assert.equal(databases.trim(), '0');
    });

    test('an unknown cluster: tailtraced does not start, quoting ClickHouse', async () => {
      await assert.rejects(
        startDaemon({
          storageYaml: clickhouseStorageYaml(server(0), 'e2e_nosuch', { cluster: 'nosuch' }),
        }),
        (err) => {
          assert.match(err.message, /tailtraced exited with code [1-9]\d* before it was ready/);
          assert.match(err.message, /stderr: [^]*Requested cluster 'nosuch' not found/);
          return true;
        },
      );
    });
  });
});
