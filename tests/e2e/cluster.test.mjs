// End-to-end cluster test: three real tailtraced nodes on 127.0.0.21/22/23 act as one service.
// Real OpenTelemetry JS SDK clients send each service's spans to a different node, so every
// trace arrives in parts at three nodes; the nodes route each span to its trace's owner
// (rendezvous hashing over the live members, cluster/ownership.h) and answer the client only
// once the owner holds it. The test computes every trace's owner itself from that hash contract
// (lib/cluster.mjs) and checks:
//   - every kept trace is whole and identical when read from any node; an error span sent to a
//     node that does not own its trace still makes the owner keep the trace (errors policy +
//     0% probabilistic), and the ordinary traces are dropped everywhere;
//   - each trace was decided and stored once, at its owner (per-node decision and store
//     counters), and search answers the same from every node;
//   - /metrics: local + forwarded spans add up to what each node's client sent, and what the
//     nodes forwarded is what their peers received;
//   - SIGKILL of one node while the SDK keeps sending to the other two: no client export fails,
//     traces sent after the kill are whole on the survivors, survivors' queries name the dead
//     member in `errors`; after a restart it is live again for its peers, they forward to it
//     again, and what it stored before the kill is readable from any node.
//
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/cluster.test.mjs
//   E2E_CLUSTER_LOGS=/tmp/cluster-logs ...   # keeps each node's log as node-N.log there

import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';

import { checkJaegerSpan, checkJaegerTrace } from './lib/checks.mjs';
import {
  awaitClusterFormed,
  clusterStatus,
  describeMembers,
  metricSum,
  ownerOf,
  ownersInOrder,
  pickSharedPort,
  readMetrics,
  startCluster,
  startMember,
} from './lib/cluster.mjs';
import { getJson, httpGet, pollJaegerTrace, pollUntil, truncate } from './lib/daemon.mjs';
import { jaegerSearch } from './lib/search.mjs';
import { ServiceClient } from './lib/sdk.mjs';

const HOSTS = Object.freeze(['127.0.0.21', '127.0.0.22', '127.0.0.23']);

// Short windows keep the file fast: a trace is decided 1 s after its first span (200 ms after its
// root), and a peer without answers is down after 2 s.
const DECISION_WAIT_MS = 1000;
const CLUSTER_OPTIONS = Object.freeze({ peerTimeout: '2s', queryTimeout: '2s' });
// Acknowledged spans survive a SIGKILL (the killed node replays them when it comes back).
const WAL_YAML = 'wal: { enabled: true, fsync: false }';
// Keep the traces with an error span, nothing else.
const POLICIES = `
  policies:
    - name: errors
      type: status_code
      status_code: { status_codes: [ERROR] }
    - name: nothing-else
      type: probabilistic
      probabilistic: { sampling_percentage: 0 }
`;

// Service i sends to node i, each over its own transport.
const SERVICES = Object.freeze([
  { name: 'shop-web', protocol: 'grpc' },
  { name: 'shop-cart', protocol: 'http/protobuf' },
  { name: 'shop-stock', protocol: 'http/json' },
]);
const SPANS_PER_SERVICE = 2;
const SPANS_PER_TRACE = SPANS_PER_SERVICE * SERVICES.length;

// Traffic of the first test: traces are made until every node owns this many.
const TRACES_PER_OWNER = 20;
// Where the error span goes, by the count of traces an owner got so far (cycled): in a service
// sent to one of the two nodes that do not own the trace, in the owner's own service, or nowhere
// (dropped). Half the traces are kept.
const ERROR_PATTERN = Object.freeze(['other-0', null, 'other-1', null, 'own', null]);

// The kill test: a trace every TICK_MS from the two services whose nodes survive.
const TICK_MS = 100;
const BEFORE_KILL_MS = 1000;
// Longer than peer_timeout: the survivors give the dead node up (1 s) and mark it down (2 s).
const AFTER_KILL_MS = 3500;
// An export to a survivor may take the failover (about 1 s of retries against the dead owner);
// well below the SDK's 5 s export timeout.
const MAX_FAILOVER_EXPORT_MS = 3000;
const RESTART_TIMEOUT_MS = 10_000;
// Concurrent reads of the query API.
const READ_CONCURRENCY = 8;

const show = (list, n = 8) => `${list.slice(0, n).join(', ')}${list.length > n ? ', ...' : ''}`;

// [seconds, nanoseconds] of a millisecond timestamp.
const hrTime = (ms) => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

async function forEachLimited(items, fn) {
  for (let i = 0; i < items.length; i += READ_CONCURRENCY) {
    await Promise.all(items.slice(i, i + READ_CONCURRENCY).map(fn));
  }
}

// A Jaeger trace in a form that compares equal when two nodes answer the same: spans by ID,
// each with its process inlined (process IDs are per response).
function canonicalTrace(t) {
  const spans = t.spans.map(({ processID, ...span }) => ({
    ...span,
    process: t.processes[processID],
  }));
  spans.sort((a, b) => (a.spanID < b.spanID ? -1 : a.spanID > b.spanID ? 1 : 0));
  return JSON.stringify(spans);
}

// The expected spans (sdk.mjs toExpectedSpan) of some clients, by trace ID.
function expectedByTrace(clients) {
  const byTrace = new Map();
  for (const client of clients) {
    for (const span of client.expectedSpans()) {
      if (!byTrace.has(span.traceId)) byTrace.set(span.traceId, []);
      byTrace.get(span.traceId).push(span);
    }
  }
  return byTrace;
}

// Whether a Jaeger envelope's `errors` name `member`.
const errorsName = (body, member) =>
  (body.errors ?? []).some((e) => String(e.msg).includes(member));

// Throws naming the client and the first failure if any export of `clients` failed.
function assertNoFailedExport(clients, when) {
  for (const c of clients) {
    const failed = c.exporter.calls.filter((call) => call.code !== ExportResultCode.SUCCESS);
    assert.equal(
      failed.length,
      0,
      `${when}: ${failed.length} of ${c.exporter.calls.length} exports of ${c.exporter.label} ` +
        `failed; first: ${failed[0]?.error?.message ?? ''} (after ` +
        `${failed[0] ? failed[0].endedAtMs - failed[0].startedAtMs : 0} ms)`,
    );
  }
}

// The shop trace of the first test: web -> cart -> stock, two spans per service (a SERVER span
// and a CLIENT/INTERNAL child), parented across services, with explicit timestamps from
// `startMs`. `chooseError(traceId)` returns the index of the service whose child span fails, or
// null. Returns { traceId, errorIn }.
function buildShopTrace(clients, startMs, chooseError) {
  const [web, cart, stock] = clients.map((c) => c.tracer);
  const t = (ms) => hrTime(startMs + ms);
  const under = (span) => trace.setSpan(ROOT_CONTEXT, span);
  const root = web.startSpan(
    'GET /checkout',
    { kind: SpanKind.SERVER, startTime: t(0), attributes: { 'http.route': '/checkout' } },
    ROOT_CONTEXT,
  );
  const traceId = root.spanContext().traceId;
  const errorIn = chooseError(traceId);
  const call = web.startSpan(
    'POST /cart/checkout',
    { kind: SpanKind.CLIENT, startTime: t(1) },
    under(root),
  );
  const cartServer = cart.startSpan(
    'cart.Checkout',
    { kind: SpanKind.SERVER, startTime: t(2) },
    under(call),
  );
  const reserve = cart.startSpan(
    'POST /stock/reserve',
    { kind: SpanKind.CLIENT, startTime: t(3) },
    under(cartServer),
  );
  const stockServer = stock.startSpan(
    'stock.Reserve',
    { kind: SpanKind.SERVER, startTime: t(4) },
    under(reserve),
  );
  const db = stock.startSpan(
    'UPDATE stock',
    { kind: SpanKind.INTERNAL, startTime: t(5), attributes: { 'db.system': 'postgresql' } },
    under(stockServer),
  );
  if (errorIn !== null) {
    const failing = [call, reserve, db][errorIn];
    failing.setStatus({ code: SpanStatusCode.ERROR, message: `${SERVICES[errorIn].name} failed` });
    failing.addEvent('exception', { 'exception.message': 'out of stock' }, t(6));
  }
  db.end(t(7));
  stockServer.end(t(8));
  reserve.end(t(9));
  cartServer.end(t(10));
  call.end(t(11));
  root.end(t(12));
  return { traceId, errorIn };
}

// The kill test's traffic: from web (to node 1) and cart (to node 2) only, a 4-span trace every
// TICK_MS, its root failed so that every trace is kept. Exports run concurrently; each tick's
// forceFlush() exports exactly that tick's spans (one request per service).
class SteadyTraffic {
  constructor(web, cart) {
    this.web = web;
    this.cart = cart;
    this.traces = []; // { traceId, phase }
    this.inFlight = new Set();
    this.phase = 'before-kill';
    this.tickWaiters = [];
  }

  tick() {
    const startMs = Date.now();
    const t = (ms) => hrTime(startMs + ms);
    const under = (span) => trace.setSpan(ROOT_CONTEXT, span);
    const root = this.web.tracer.startSpan(
      'GET /pay',
      { kind: SpanKind.SERVER, startTime: t(0), attributes: { 'http.route': '/pay' } },
      ROOT_CONTEXT,
    );
    const span = (tracer, name, kind, at, parent) =>
      tracer.startSpan(name, { kind, startTime: t(at) }, under(parent));
    const call = span(this.web.tracer, 'POST /cart/pay', SpanKind.CLIENT, 1, root);
    const server = span(this.cart.tracer, 'cart.Pay', SpanKind.SERVER, 2, call);
    const inner = span(this.cart.tracer, 'cart.Charge', SpanKind.INTERNAL, 3, server);
    root.setStatus({ code: SpanStatusCode.ERROR, message: 'payment declined' });
    inner.end(t(4));
    server.end(t(5));
    call.end(t(6));
    root.end(t(7));
    this.traces.push({ traceId: root.spanContext().traceId, phase: this.phase });
    const flushed = Promise.allSettled([
      this.cart.provider.forceFlush(),
      this.web.provider.forceFlush(),
    ]);
    this.inFlight.add(flushed);
    flushed.then(() => this.inFlight.delete(flushed));
    for (const resolve of this.tickWaiters.splice(0)) resolve();
  }

  // Ticks until `untilMs` (Date.now() scale) or until `stop()` returns true.
  async run(untilMs, stop = () => false) {
    while (Date.now() < untilMs && !(await stop())) {
      this.tick();
      await delay(TICK_MS);
    }
  }

  // Resolves right after the next tick started its exports.
  nextTick() {
    return new Promise((resolve) => this.tickWaiters.push(resolve));
  }

  // Resolves once every export started has its result.
  async settle() {
    await Promise.all([...this.inFlight]);
  }

  // The IDs of the traces whose two exports (web, cart) both succeeded.
  acknowledgedTraces() {
    const acks = new Map();
    for (const c of this.calls()) {
      if (c.code !== ExportResultCode.SUCCESS) continue;
      for (const id of c.traceIds) acks.set(id, (acks.get(id) ?? 0) + 1);
    }
    return [...acks].filter(([, n]) => n === 2).map(([id]) => id);
  }

  // The calls of both exporters (each: traceIds, startedAtMs, endedAtMs, code).
  calls() {
    return [...this.web.exporter.calls, ...this.cart.exporter.calls];
  }
}

describe('cluster of three nodes: routing, fan-out queries, a killed and restarted member', () => {
  let cluster; // { port, members, nodes: [{ host, member, daemon }] }
  let clients; // ServiceClient per service (service i -> node i)
  const killClients = [];
  // The first test's traces: { traceId, owner, errorIn, kept, startMs }.
  const shopTraces = [];
  let shopExpected; // traceId -> expected spans

  const node = (i) => cluster.nodes[i].daemon;
  const nodeLabel = (i) => `node ${i + 1} (${cluster.members[i]})`;
  const ownedBy = (member) => shopTraces.filter((t) => t.owner === member);

  before(async () => {
    cluster = await startCluster(HOSTS, {
      decisionWait: `${DECISION_WAIT_MS}ms`,
      samplingYaml: POLICIES,
      extraYaml: WAL_YAML,
      clusterOptions: CLUSTER_OPTIONS,
    });
    // Every node sees every member live, and the start-up handover is over (it would add
    // handover forwards to the metrics the tests count).
    await awaitClusterFormed(cluster, 3, DECISION_WAIT_MS);
    clients = SERVICES.map(
      ({ name, protocol }, i) =>
        new ServiceClient({ serviceName: name, protocol, endpoints: node(i).endpoints }),
    );
  });

  after(async () => {
    const everyClient = [...(clients ?? []), ...killClients];
    await Promise.all(everyClient.map((c) => c.shutdown().catch(() => {})));
    // E2E_CLUSTER_LOGS=DIR keeps every node's log (all of its runs) as DIR/node-N.log.
    if (process.env.E2E_CLUSTER_LOGS && cluster) {
      await mkdir(process.env.E2E_CLUSTER_LOGS, { recursive: true });
      for (const [i, { daemon }] of cluster.nodes.entries()) {
        const file = path.join(process.env.E2E_CLUSTER_LOGS, `node-${i + 1}.log`);
        await writeFile(file, daemon.stderr);
      }
    }
    await Promise.all((cluster?.nodes ?? []).map(({ daemon }) => daemon.cleanup()));
  });

  test('each service sends to its own node: every kept trace is whole and identical on every node', async (t) => {
    const { members } = cluster;
    const perOwner = new Map(members.map((m) => [m, 0]));
    const baseMs = Date.now() - 60_000;
    while (Math.min(...perOwner.values()) < TRACES_PER_OWNER) {
      const startMs = baseMs + shopTraces.length * 20;
      let owner;
      const { traceId, errorIn } = buildShopTrace(clients, startMs, (id) => {
        owner = ownerOf(id, members);
        const k = perOwner.get(owner);
        perOwner.set(owner, k + 1);
        const ownerIndex = members.indexOf(owner);
        const others = [0, 1, 2].filter((i) => i !== ownerIndex);
        const pattern = ERROR_PATTERN[k % ERROR_PATTERN.length];
        if (pattern === null) return null;
        return pattern === 'own' ? ownerIndex : others[Number(pattern.slice(-1))];
      });
      shopTraces.push({ traceId, owner, errorIn, kept: errorIn !== null, startMs });
    }
    // Leaf services first, the roots last; each flush resolves once every owner holds the spans.
    for (const i of [2, 1, 0]) await clients[i].flush();
    shopExpected = expectedByTrace(clients);

    const kept = shopTraces.filter((s) => s.kept);
    const dropped = shopTraces.filter((s) => !s.kept);
    const errorAway = kept.filter((s) => members[s.errorIn] !== s.owner);
    t.diagnostic(
      `${shopTraces.length} traces (${SPANS_PER_TRACE} spans each) owned ` +
        `${members.map((m) => `${m}: ${ownedBy(m).length}`).join(', ')}; ${kept.length} with an ` +
        `error span (${errorAway.length} of them sent to a node that does not own the trace)`,
    );
    for (const m of members) {
      assert.ok(
        errorAway.some((s) => s.owner === m),
        `the scenario must send, for every owner, an error span to another node (${m})`,
      );
    }

    // Every kept trace, read from every node: all six spans with their parents, attributes and
    // status (checkJaegerTrace, no errors), and the same answer from each node.
    await forEachLimited(kept, async ({ traceId }) => {
      const answers = [];
      for (let i = 0; i < 3; i++) {
        const body = await pollJaegerTrace(node(i), traceId, SPANS_PER_TRACE);
        checkJaegerTrace(body, traceId, shopExpected.get(traceId));
        answers.push(canonicalTrace(body.data[0]));
      }
      assert.ok(
        answers.every((a) => a === answers[0]),
        `/api/traces/${traceId} differs between nodes:\n${answers.map(truncate).join('\n')}`,
      );
    });

    // Nothing undecided anywhere, then the ordinary traces are gone on every node.
    await pollUntil('every node to hold no undecided trace', async (seen) => {
      const buffered = await Promise.all(
        cluster.nodes.map(async ({ daemon }) =>
          metricSum(await readMetrics(daemon), 'tailtrace_sampler_traces_buffered'),
        ),
      );
      seen(`buffered: ${buffered.join(', ')}`);
      return buffered.every((b) => b === 0) ? true : undefined;
    });
    await forEachLimited(dropped, async ({ traceId, owner }) => {
      for (let i = 0; i < 3; i++) {
        const r = await httpGet(node(i).queryUrl(`/api/traces/${traceId}`));
        assert.equal(
          r.status,
          404,
          `/api/traces/${traceId} on ${nodeLabel(i)}: a trace without an error span (owner ` +
            `${owner}) must be dropped: ${truncate(r.body, 500)}`,
        );
      }
    });

    // Each trace was decided once, at its owner, and each kept trace stored there once, whole:
    // a trace split between nodes would be decided (and stored in parts) on more than one.
    for (let i = 0; i < 3; i++) {
      const metrics = await readMetrics(node(i));
      const owned = ownedBy(members[i]);
      const keptHere = owned.filter((s) => s.kept).length;
      const decided = (sampled) =>
        metricSum(metrics, 'otelcol_processor_tail_sampling_count_traces_sampled', {
          policy: 'errors',
          sampled,
        });
      assert.deepEqual(
        {
          decided: decided('true') + decided('false'),
          kept: decided('true'),
          storedTraces: metricSum(metrics, 'tailtrace_stored_traces_total'),
          storedSpans: metricSum(metrics, 'tailtrace_stored_spans_total'),
        },
        {
          decided: owned.length,
          kept: keptHere,
          storedTraces: keptHere,
          storedSpans: keptHere * SPANS_PER_TRACE,
        },
        `${nodeLabel(i)} must decide exactly the ${owned.length} traces it owns and store the ` +
          `${keptHere} kept ones whole`,
      );
    }
  });

  test('search answers the same trace IDs from every node', async () => {
    assert.ok(shopTraces.length > 0, 'needs the traces of the first test');
    const kept = shopTraces.filter((s) => s.kept);
    const keptIds = kept.map((s) => s.traceId).sort();
    const newest = [...kept]
      .sort((a, b) => b.startMs - a.startMs)
      .slice(0, 5)
      .map((s) => s.traceId);
    for (const { name } of SERVICES) {
      const all = [];
      const top = [];
      for (let i = 0; i < 3; i++) {
        const everything = await jaegerSearch(node(i), { service: name, limit: 1000 });
        assert.ok(
          !everything.body.errors?.length,
          `search ${name} on ${nodeLabel(i)}: errors ${JSON.stringify(everything.body.errors)}`,
        );
        assert.deepEqual(
          [...everything.ids].sort(),
          keptIds,
          `search service=${name} on ${nodeLabel(i)} must return every kept trace of the cluster`,
        );
        all.push(everything.ids);
        top.push((await jaegerSearch(node(i), { service: name, limit: 5 })).ids);
      }
      for (let i = 1; i < 3; i++) {
        assert.deepEqual(all[i], all[0], `search ${name}: ${nodeLabel(i)} orders differently`);
        assert.deepEqual(top[i], top[0], `search ${name}&limit=5: ${nodeLabel(i)} differs`);
      }
      assert.deepEqual(top[0], newest, `search ${name}&limit=5: the five newest kept traces`);
    }
    for (let i = 0; i < 3; i++) {
      const services = await getJson(node(i).queryUrl('/api/services'));
      assert.deepEqual(
        [...services.data].sort(),
        SERVICES.map((s) => s.name).sort(),
        `/api/services on ${nodeLabel(i)}`,
      );
    }
  });

  test('/metrics: local and forwarded spans add up to what each client sent', async () => {
    assert.ok(shopTraces.length > 0, 'needs the traces of the first test');
    const { members } = cluster;
    const metrics = await Promise.all(cluster.nodes.map(({ daemon }) => readMetrics(daemon)));
    const forwarded = (i, peer, kind = 'owner') =>
      metricSum(metrics[i], 'tailtrace_cluster_forwarded_spans_total', { peer, kind });
    for (let i = 0; i < 3; i++) {
      const sent = clients[i].exporter.calls.reduce((n, c) => n + c.spanCount, 0);
      assert.equal(sent, shopTraces.length * SPANS_PER_SERVICE, `${SERVICES[i].name} spans sent`);
      const local = metricSum(metrics[i], 'tailtrace_cluster_local_spans_total');
      const others = members.filter((m) => m !== members[i]);
      const got = {
        local,
        ...Object.fromEntries(others.map((p) => [`forwarded to ${p}`, forwarded(i, p)])),
        'forwarded as handover': metricSum(metrics[i], 'tailtrace_cluster_forwarded_spans_total', {
          kind: 'handover',
        }),
        rerouted: metricSum(metrics[i], 'tailtrace_cluster_rerouted_spans_total'),
        unreachable: metricSum(metrics[i], 'tailtrace_cluster_forward_unreachable_spans_total'),
        refused: metricSum(metrics[i], 'tailtrace_cluster_refused_spans_total'),
      };
      // The spans of each trace a service sends go to that trace's owner.
      const want = {
        local: ownedBy(members[i]).length * SPANS_PER_SERVICE,
        ...Object.fromEntries(
          others.map((p) => [`forwarded to ${p}`, ownedBy(p).length * SPANS_PER_SERVICE]),
        ),
        'forwarded as handover': 0,
        rerouted: 0,
        unreachable: 0,
        refused: 0,
      };
      assert.deepEqual(got, want, `${nodeLabel(i)}: where the ${sent} spans of its client went`);
      assert.equal(
        local + others.reduce((n, p) => n + forwarded(i, p), 0),
        sent,
        `${nodeLabel(i)}: local + forwarded spans must equal the ${sent} spans its client sent`,
      );
      // What the peers forwarded here was received here (the receivers count peers' calls too).
      const fromPeers = [0, 1, 2]
        .filter((j) => j !== i)
        .reduce((n, j) => n + forwarded(j, members[i]), 0);
      assert.equal(
        metricSum(metrics[i], 'otelcol_receiver_accepted_spans'),
        sent + fromPeers,
        `${nodeLabel(i)}: accepted spans = ${sent} from its client + ${fromPeers} from peers`,
      );
    }
  });

  test('SIGKILL of a node while clients send to the others; restart: it rejoins and its traces are back', async (t) => {
    assert.ok(shopTraces.length > 0, 'needs the traces of the first test');
    const { members } = cluster;
    const DEAD = 2; // node 3, the node of shop-stock; shop-web and shop-cart keep sending
    const dead = members[DEAD];
    const survivors = [0, 1];
    const [web, cart] = [0, 1].map(
      (i) =>
        new ServiceClient({
          serviceName: SERVICES[i].name,
          protocol: SERVICES[i].protocol,
          endpoints: node(i).endpoints,
        }),
    );
    killClients.push(web, cart);
    const traffic = new SteadyTraffic(web, cart);

    // Traffic for at least BEFORE_KILL_MS, and until a few acknowledged traces are owned by the
    // node to kill; then the kill, right after a tick's exports started (their forwards may be on
    // their way to that node); then AFTER_KILL_MS more traffic to the survivors.
    const runStartMs = Date.now();
    await traffic.run(runStartMs + RESTART_TIMEOUT_MS, async () => {
      const acknowledged = traffic.acknowledgedTraces();
      return (
        Date.now() >= runStartMs + BEFORE_KILL_MS &&
        acknowledged.filter((id) => ownerOf(id, members) === dead).length >= 3
      );
    });
    const killed = traffic.nextTick().then(async () => {
      await delay(Math.floor(Math.random() * 4));
      const exited = node(DEAD).kill('SIGKILL');
      traffic.phase = 'after-kill';
      return { atMs: Date.now(), exited };
    });
    const [kill] = await Promise.all([
      killed,
      traffic.run(Date.now() + 60_000, async () => traffic.phase === 'after-kill'),
    ]);
    const killAtMs = kill.atMs;
    const exit = await kill.exited;
    assert.equal(exit.signal, 'SIGKILL', `${nodeLabel(DEAD)}: ${node(DEAD).describeExit()}`);
    await traffic.run(Date.now() + AFTER_KILL_MS);
    await traffic.settle();

    // Clients never talk to the killed node: every export succeeds, also those in flight at the
    // kill (their forwards to it fail over to the next member), within about the failover time.
    assertNoFailedExport([web, cart], 'after the kill');
    const afterKillCalls = traffic.calls().filter((c) => c.endedAtMs >= killAtMs);
    const slowest = Math.max(...afterKillCalls.map((c) => c.endedAtMs - c.startedAtMs));
    t.diagnostic(`slowest export answered after the kill: ${slowest} ms`);
    assert.ok(
      slowest <= MAX_FAILOVER_EXPORT_MS,
      `an export answered after the kill took ${slowest} ms (failover should take about 1 s)`,
    );

    // Which traces were wholly sent before the kill, wholly after it, or had an export in flight.
    const callsOf = new Map();
    for (const c of traffic.calls()) {
      for (const id of c.traceIds) {
        if (!callsOf.has(id)) callsOf.set(id, []);
        callsOf.get(id).push(c);
      }
    }
    const when = (id) => {
      const calls = callsOf.get(id) ?? [];
      if (calls.length === 2 && calls.every((c) => c.endedAtMs < killAtMs)) return 'before';
      if (calls.length === 2 && calls.every((c) => c.startedAtMs > killAtMs)) return 'after';
      return 'in-flight';
    };
    const steady = traffic.traces.map((s) => ({ ...s, when: when(s.traceId) }));
    const beforeKill = steady.filter((s) => s.when === 'before');
    const afterKill = steady.filter((s) => s.when === 'after');
    const inFlight = steady.filter((s) => s.when === 'in-flight');
    const steadyExpected = expectedByTrace([web, cart]);
    t.diagnostic(
      `kill test traffic: ${beforeKill.length} traces before the kill, ${inFlight.length} in ` +
        `flight at it, ${afterKill.length} after it`,
    );
    assert.ok(afterKill.length >= 10, `only ${afterKill.length} traces sent after the kill`);
    assert.ok(
      afterKill.some((s) => ownerOf(s.traceId, members) === dead),
      'some trace sent after the kill must be owned by the node killed (and fail over)',
    );
    assert.ok(
      beforeKill.some((s) => ownerOf(s.traceId, members) === dead),
      'some trace sent before the kill must be owned by the node killed',
    );

    // The survivors fail the dead node over and mark it down.
    await pollUntil(`${nodeLabel(0)} and ${nodeLabel(1)} to mark ${dead} down`, async (seen) => {
      const views = await Promise.all(survivors.map((i) => clusterStatus(node(i))));
      seen(views.map(describeMembers).join(' | '));
      const down = (v) => v.members.find((m) => m.name === dead)?.state === 'down';
      return views.every((v) => down(v) && v.liveMembers === 2) ? true : undefined;
    });
    const survivorMetrics = await Promise.all(survivors.map((i) => readMetrics(node(i))));
    const unreachable = survivorMetrics.map((m) =>
      metricSum(m, 'tailtrace_cluster_forward_unreachable_spans_total', { peer: dead }),
    );
    const rerouted = survivorMetrics.map((m) =>
      metricSum(m, 'tailtrace_cluster_rerouted_spans_total'),
    );
    t.diagnostic(`survivors: unreachable spans to ${dead}: ${unreachable}, rerouted: ${rerouted}`);
    for (const [k, m] of survivorMetrics.entries()) {
      assert.equal(
        metricSum(m, 'tailtrace_cluster_peer_up', { peer: dead }),
        0,
        `${nodeLabel(k)}: tailtrace_cluster_peer_up{peer="${dead}"}`,
      );
    }
    assert.equal(
      rerouted.reduce((a, b) => a + b, 0),
      unreachable.reduce((a, b) => a + b, 0),
      'every span that could not reach the dead owner was rerouted',
    );

    // From the survivors: traces sent after the kill are whole (on the next member in hash
    // order), with the dead member named in `errors`.
    await forEachLimited(afterKill, async ({ traceId }) => {
      for (const i of survivors) {
        const body = await pollJaegerTrace(node(i), traceId, SPANS_PER_SERVICE * 2);
        const where = `/api/traces/${traceId} on ${nodeLabel(i)} after the kill`;
        const spans = body.data[0].spans;
        const expected = steadyExpected.get(traceId);
        assert.equal(spans.length, expected.length, `${where}: ${spans.length} spans`);
        for (const e of expected) {
          const found = spans.filter((s) => s.spanID === e.spanId);
          assert.equal(found.length, 1, `${where}: span ${e.spanId} found ${found.length} times`);
          checkJaegerSpan(found[0], body.data[0].processes, e);
        }
        assert.ok(
          errorsName(body, dead),
          `${where}: errors must name ${dead}: ${JSON.stringify(body.errors)}`,
        );
      }
    });
    // The first test's kept traces: those the dead node owns are missing, the rest are whole;
    // either way the answer names the dead member.
    await forEachLimited(shopTraces.filter((s) => s.kept), async ({ traceId, owner }) => {
      for (const i of survivors) {
        const r = await httpGet(node(i).queryUrl(`/api/traces/${traceId}`));
        const where = `/api/traces/${traceId} (owner ${owner}) on ${nodeLabel(i)} after the kill`;
        assert.ok(r.json, `${where}: no JSON: HTTP ${r.status} ${truncate(r.body, 300)}`);
        const answer = `${where}: ${truncate(r.body, 500)}`;
        assert.ok(errorsName(r.json, dead), `${answer}\nerrors must name ${dead}`);
        if (owner === dead) {
          assert.equal(r.status, 404, `${answer}\nheld only by the dead node`);
        } else {
          assert.equal(r.status, 200, answer);
          assert.equal(r.json.data?.[0]?.spans?.length, SPANS_PER_TRACE, answer);
        }
      }
    });
    // Search from a survivor: what the survivors hold, the dead member named.
    for (const i of survivors) {
      const r = await jaegerSearch(node(i), { service: SERVICES[0].name, limit: 1000 });
      const where = `search service=${SERVICES[0].name} on ${nodeLabel(i)} after the kill`;
      assert.ok(
        errorsName(r.body, dead),
        `${where}: errors must name ${dead}: ${JSON.stringify(r.body.errors)}`,
      );
      const got = new Set(r.ids);
      const held = [
        ...shopTraces.filter((s) => s.kept && s.owner !== dead),
        ...beforeKill.filter((s) => ownerOf(s.traceId, members) !== dead),
        ...afterKill,
      ].map((s) => s.traceId);
      const missing = held.filter((id) => !got.has(id));
      assert.deepEqual(missing, [], `${where}: traces held by the survivors are missing`);
      const deadOnly = [...shopTraces.filter((s) => s.kept), ...beforeKill]
        .filter((s) => ownerOf(s.traceId, members) === dead)
        .map((s) => s.traceId)
        .filter((id) => got.has(id));
      assert.deepEqual(deadOnly, [], `${where}: traces only the dead node holds cannot be found`);
    }

    for (const i of survivors) {
      const services = await getJson(node(i).queryUrl('/api/services'));
      assert.ok(
        errorsName(services, dead),
        `/api/services on ${nodeLabel(i)} after the kill: errors must name ${dead}: ` +
          JSON.stringify(services.errors),
      );
    }

    // Restart on the same dir and ports: its peers see it live again, it sees them.
    const forwardedToDead = (m) =>
      metricSum(m, 'tailtrace_cluster_forwarded_spans_total', { peer: dead, kind: 'owner' });
    const forwardedBefore = (await Promise.all(survivors.map((i) => readMetrics(node(i))))).map(
      forwardedToDead,
    );
    await node(DEAD).restart();
    await pollUntil(
      `every node to see ${dead} live again after its restart`,
      async (seen) => {
        const views = await Promise.all(cluster.nodes.map(({ daemon }) => clusterStatus(daemon)));
        seen(views.map(describeMembers).join(' | '));
        return views.every((v) => v.liveMembers === 3) ? true : undefined;
      },
      { timeoutMs: RESTART_TIMEOUT_MS },
    );
    for (let i = 0; i < 3; i++) {
      const services = await getJson(node(i).queryUrl('/api/services'));
      assert.ok(
        !services.errors?.length,
        `/api/services on ${nodeLabel(i)} after the restart: ${JSON.stringify(services.errors)}`,
      );
    }
    // Peers forward to it again: traffic until both survivors handed it spans of its traces.
    traffic.phase = 'after-restart';
    let forwardedAfter = forwardedBefore;
    await traffic.run(Date.now() + RESTART_TIMEOUT_MS, async () => {
      const now = await Promise.all(survivors.map((i) => readMetrics(node(i))));
      forwardedAfter = now.map(forwardedToDead);
      return forwardedAfter.every((n, k) => n > forwardedBefore[k]);
    });
    await traffic.settle();
    assert.ok(
      forwardedAfter.every((n, k) => n > forwardedBefore[k]),
      `tailtrace_cluster_forwarded_spans_total{peer="${dead}",kind="owner"} on the survivors ` +
        `must grow after the restart: ${forwardedBefore} -> ${forwardedAfter}`,
    );
    assertNoFailedExport([web, cart], 'whole kill test');
    const handovers = await Promise.all(
      cluster.nodes.map(async ({ daemon }) => {
        const m = await readMetrics(daemon);
        return (
          `sent ${metricSum(m, 'tailtrace_cluster_forwarded_spans_total', { kind: 'handover' })}` +
          ` received ${metricSum(m, 'tailtrace_cluster_handover_received_spans_total')}` +
          ` kept ${metricSum(m, 'tailtrace_cluster_handover_kept_spans_total')}`
        );
      }),
    );
    t.diagnostic(
      `after the restart: forwarded to ${dead} ${forwardedBefore} -> ${forwardedAfter}; ` +
        `handover spans per node: ${handovers.join(' | ')}`,
    );
    const afterRestart = traffic.traces.filter((s) => s.phase === 'after-restart');
    const allExpected = expectedByTrace([web, cart]);

    // Every trace not cut by the kill, from every node, whole and the same, without errors: the
    // first test's traces and those sent before the kill that the restarted node owns are back.
    const everyTrace = [
      ...shopTraces
        .filter((s) => s.kept)
        .map((s) => ({ traceId: s.traceId, expected: shopExpected.get(s.traceId) })),
      ...[...beforeKill, ...afterKill, ...afterRestart].map((s) => ({
        traceId: s.traceId,
        expected: allExpected.get(s.traceId),
      })),
    ];
    await forEachLimited(everyTrace, async ({ traceId, expected }) => {
      const answers = [];
      for (let i = 0; i < 3; i++) {
        const body = await pollJaegerTrace(node(i), traceId, expected.length);
        checkJaegerTrace(body, traceId, expected);
        answers.push(canonicalTrace(body.data[0]));
      }
      assert.ok(
        answers.every((a) => a === answers[0]),
        `/api/traces/${traceId} differs between nodes after the restart`,
      );
    });

    // The traces with an export in flight at the kill are not checked: parts the killed node
    // took before dying come back with it, parts that failed over were decided elsewhere, maybe
    // without the failed root span (README "Running a cluster": traces buffered on a node that
    // dies are not covered). Reported only.
    let whole = 0;
    const partial = [];
    for (const { traceId } of inFlight) {
      const r = await httpGet(node(0).queryUrl(`/api/traces/${traceId}`));
      const spans = r.json?.data?.[0]?.spans ?? [];
      if (spans.length === steadyExpected.get(traceId).length) {
        whole += 1;
      } else {
        const names = spans.map((x) => x.operationName).sort();
        const owners = ownersInOrder(traceId, members).join(' > ');
        partial.push(`${traceId} (owners ${owners}): ${spans.length} spans [${names.join(', ')}]`);
      }
    }
    t.diagnostic(
      `traces in flight at the kill: ${whole} of ${inFlight.length} whole` +
        (partial.length ? `; ${show(partial)}` : ''),
    );

    // Search is the same from every node again, without errors.
    const searches = [];
    for (let i = 0; i < 3; i++) {
      const r = await jaegerSearch(node(i), { service: SERVICES[1].name, limit: 1000 });
      assert.ok(
        !r.body.errors?.length,
        `search on ${nodeLabel(i)} after the restart: ${JSON.stringify(r.body.errors)}`,
      );
      searches.push(r.ids);
    }
    for (let i = 1; i < 3; i++) {
      assert.deepEqual(
        searches[i],
        searches[0],
        `search after the restart: ${nodeLabel(i)} differs`,
      );
    }
    const found = new Set(searches[0]);
    const lost = everyTrace.map((x) => x.traceId).filter((id) => !found.has(id));
    assert.deepEqual(lost, [], 'search after the restart misses traces the kill did not cut');
  });

  // README "Running a cluster": "the log says when members join, leave, go down and answer
  // again" — whichever of the prober, the forwarders, the query fan-out or the refresh marks the
  // member down (Membership logs every change of state).
  test(
    "the survivors' logs say the killed member went down and came back",
    () => {
      const dead = cluster.members[2];
      for (const i of [0, 1]) {
        const log = node(i).stderr;
        assert.match(log, new RegExp(`member ${dead} cannot be reached`), `${nodeLabel(i)} log`);
        assert.match(
          log,
          new RegExp(`member ${dead} answers again; it is live`),
          `${nodeLabel(i)} log`,
        );
        assert.match(
          log,
          new RegExp(`member ${dead} is down \\(no answer within peer_timeout`),
          `${nodeLabel(i)} must log that ${dead} went down:\n${node(i).stderrTail()}`,
        );
      }
    },
  );

  test('SIGTERM stops every node with exit code 0', async () => {
    const exits = await Promise.all(cluster.nodes.map(({ daemon }) => daemon.stop()));
    exits.forEach((exit, i) =>
      assert.deepEqual(
        { code: exit.code, signal: exit.signal },
        { code: 0, signal: null },
        `${nodeLabel(i)}: ${node(i).describeExit()}\nstderr: ${node(i).stderrTail()}`,
      ),
    );
  });
});

// Long enough that the traces under way when the new node joins are still undecided at their old
// owner when their last spans come (membership takes a probe period or two to change on every
// node): for decision_wait after a change, a span of a trace goes to the owner that buffers it
// (cluster/span_router.h). Spans later than that are late spans, decided on their own at the new
// owner.
const JOIN_DECISION_WAIT_MS = 5000;
// Traces under way at the join: at least this many, half of them failed, and at least
// JOIN_MOVED failed ones whose owner becomes the joining node (those are the ones a join could
// split).
const JOIN_TRACES = 30;
const JOIN_MOVED = 5;
const JOIN_ROUND = 30;

// A three-span trace web -> cart -> stock whose stock span fails when `failed`; the web and cart
// spans end now, the root when finish() is called. Returns { traceId, failed, finish }.
function startJoinTrace(clients, failed) {
  const [web, cart, stock] = clients.map((c) => c.tracer);
  const root = web.startSpan('GET /order', { kind: SpanKind.SERVER }, ROOT_CONTEXT);
  const under = (span) => trace.setSpan(ROOT_CONTEXT, span);
  const order = cart.startSpan('cart.PlaceOrder', { kind: SpanKind.SERVER }, under(root));
  const reserve = stock.startSpan('stock.Reserve', { kind: SpanKind.SERVER }, under(order));
  if (failed) reserve.setStatus({ code: SpanStatusCode.ERROR, message: 'out of stock' });
  reserve.end();
  order.end();
  return { traceId: root.spanContext().traceId, failed, finish: () => root.end() };
}

describe('a node joining while traffic flows', () => {
  const nodes = []; // Daemons, in HOSTS order
  const clients = [];
  let port;

  const options = () => ({
    decisionWait: `${JOIN_DECISION_WAIT_MS}ms`,
    decisionWaitAfterRoot: '300ms',
    samplingYaml: POLICIES,
    clusterOptions: CLUSTER_OPTIONS,
  });
  const liveMembersOn = (daemon, n, what) =>
    pollUntil(
      `${what} on ${daemon.endpoints.query}`,
      async (seen) => {
        const status = await clusterStatus(daemon);
        seen(describeMembers(status));
        return status.liveMembers === n ? true : undefined;
      },
      { timeoutMs: RESTART_TIMEOUT_MS },
    );

  after(async () => {
    await Promise.all(clients.map((c) => c.shutdown().catch(() => {})));
    await Promise.all(nodes.map((n) => n.cleanup()));
  });

  test('splits no trace', async (t) => {
    // Two of the three listed members run; both see the third down (nothing answers there).
    port = await pickSharedPort(HOSTS);
    const members = HOSTS.map((h) => `${h}:${port}`);
    nodes.push(...(await Promise.all([0, 1].map((i) => startMember(HOSTS, i, port, options())))));
    for (const daemon of nodes) await liveMembersOn(daemon, 2, 'the third member down');

    // web on node 1, cart and stock on node 2 until the third node is up.
    const sending = SERVICES.map(
      ({ name, protocol }, i) =>
        new ServiceClient({
          serviceName: name,
          protocol,
          endpoints: nodes[Math.min(i, 1)].endpoints,
        }),
    );
    clients.push(...sending);
    // Traces under way when the third node joins: their first spans before, their roots after.
    const early = [];
    const moved = () =>
      early.filter((e) => e.failed && ownerOf(e.traceId, members) === members[2]).length;
    while (early.length < JOIN_TRACES || moved() < JOIN_MOVED) {
      early.push(startJoinTrace(sending, early.length % 2 === 0));
    }
    await sending[2].flush();
    await sending[1].flush();
    nodes.push(await startMember(HOSTS, 2, port, options()));
    // The others see it join (their probes reach it) before the early traces' roots are sent.
    for (const daemon of nodes.slice(0, 2)) await liveMembersOn(daemon, 3, 'the new member live');
    for (const e of early) e.finish();
    await sending[0].flush();

    // Traces during the handover, every service through its own node.
    const third = new ServiceClient({
      serviceName: SERVICES[2].name,
      protocol: SERVICES[2].protocol,
      endpoints: nodes[2].endpoints,
    });
    clients.push(third);
    const during = [];
    for (let k = 0; k < JOIN_ROUND; k++) {
      during.push(startJoinTrace([sending[0], sending[1], third], k % 2 === 0));
      during.at(-1).finish();
    }
    for (const c of [third, sending[1], sending[0]]) await c.flush();

    const all = [...early, ...during];
    const failed = all.filter((e) => e.failed);
    const expected = expectedByTrace([...sending, third]);
    t.diagnostic(
      `${early.length} traces under way at the join (${moved()} failed ones now owned by the new ` +
        `node), ${during.length} during the handover`,
    );
    for (const { traceId } of failed) {
      const body = await pollJaegerTrace(nodes[2], traceId, 3, {
        timeoutMs: JOIN_DECISION_WAIT_MS + 10_000,
      });
      checkJaegerTrace(body, traceId, expected.get(traceId));
    }
    await pollUntil(
      'every node to hold no undecided trace',
      async (seen) => {
        const buffered = await Promise.all(
          nodes.map(async (d) =>
            metricSum(await readMetrics(d), 'tailtrace_sampler_traces_buffered'),
          ),
        );
        seen(`buffered: ${buffered.join(', ')}`);
        return buffered.every((b) => b === 0) ? true : undefined;
      },
      { timeoutMs: JOIN_DECISION_WAIT_MS + 10_000 },
    );
    for (const { traceId } of all.filter((e) => !e.failed)) {
      const r = await httpGet(nodes[0].queryUrl(`/api/traces/${traceId}`));
      assert.equal(
        r.status,
        404,
        `trace ${traceId} without an error was kept (split?): ${truncate(r.body, 300)}`,
      );
    }
    const metrics = await Promise.all(nodes.map((d) => readMetrics(d)));
    const stored = metrics.reduce((n, m) => n + metricSum(m, 'tailtrace_stored_spans_total'), 0);
    assert.equal(stored, 3 * failed.length, 'each kept span stored exactly once');
    t.diagnostic(
      `handover spans (sent/received/kept) per node: ` +
        metrics
          .map(
            (m) =>
              `${metricSum(m, 'tailtrace_cluster_forwarded_spans_total', { kind: 'handover' })}/` +
              `${metricSum(m, 'tailtrace_cluster_handover_received_spans_total')}/` +
              `${metricSum(m, 'tailtrace_cluster_handover_kept_spans_total')}`,
          )
          .join(' | '),
    );
  });
});
