// End-to-end cluster test: three real tailtraced nodes on 127.0.0.21-23 form one cluster (static
// membership), and the OpenTelemetry JS SDK sends each service's spans to a different node
// (frontend -> node 0 over gRPC, checkout -> node 1 over OTLP/HTTP protobuf, inventory -> node 2
// over OTLP/HTTP JSON). Sampling keeps only traces with an error, and the error is always in the
// inventory span: a trace is kept whole only if all three of its spans reached the one node that
// decides it, so every check below fails if a trace is split.
//
// - every error trace is complete and identical when read from any node (/api/traces/{id}); no
//   trace without an error is stored anywhere; the nodes store each kept span exactly once;
// - a search from any node returns the same traces;
// - SIGKILL one node: the clients keep getting successes (its traces fail over), queries from the
//   others answer with an `errors` entry naming it; restart it: it is live again for its peers
//   (/api/cluster), and the traces it stored are readable from any node again.
// - A node joins while traffic flows (two nodes run, the third listed member starts while
//   traces are under way): no trace is split.
//
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/cluster.test.mjs

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ROOT_CONTEXT, SpanStatusCode, trace } from '@opentelemetry/api';

import { getJson, httpGet, pollUntil, startDaemon } from './lib/daemon.mjs';
import { ServiceClient } from './lib/sdk.mjs';

const HOSTS = Object.freeze(['127.0.0.21', '127.0.0.22', '127.0.0.23']);
const TRACES_PER_ROUND = 30;
const DECISION_WAIT_MS = 1000;
// How long kept traces may take to become readable after the last export.
const READ_TIMEOUT_MS = DECISION_WAIT_MS + 10_000;

// A port free on all three addresses, for the gRPC listeners (members are named host:port, and
// every member needs the port before any starts).
async function freePortOnAll() {
  const bind = (host, port) =>
    new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(null));
      server.listen(port, host, () => {
        const bound = server.address().port;
        server.close(() => resolve(bound));
      });
    });
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await bind(HOSTS[0], 0);
    if (port === null) continue;
    const others = await Promise.all(HOSTS.slice(1).map((h) => bind(h, port)));
    if (others.every((p) => p === port)) return port;
  }
  throw new Error(`no port free on all of ${HOSTS.join(', ')}`);
}

function clusterYaml(i, port) {
  const members = HOSTS.map((h) => `${h}:${port}`).join(', ');
  return [
    'cluster:',
    `  self: ${HOSTS[i]}:${port}`,
    '  peers:',
    `    static: [${members}]`,
    '  peer_timeout: 2s',
    '  query_timeout: 2s',
  ].join('\n');
}

// Keeps the traces with an error span, nothing else.
const ERRORS_ONLY =
  '  policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]';

async function startNode(i, port, decisionWaitMs = DECISION_WAIT_MS) {
  return startDaemon({
    decisionWait: `${decisionWaitMs}ms`,
    decisionWaitAfterRoot: '300ms',
    samplingYaml: ERRORS_ONLY,
    extraYaml: clusterYaml(i, port),
    endpoints: {
      grpc: `${HOSTS[i]}:${port}`,
      http: `${HOSTS[i]}:0`,
      query: `${HOSTS[i]}:0`,
      admin: `${HOSTS[i]}:0`,
    },
  });
}

// One trace over the three services: frontend (root) -> checkout -> inventory; the inventory
// span fails when `failed`. Returns the trace ID.
function sendTrace(clients, failed) {
  const root = clients.frontend.tracer.startSpan('GET /checkout', {}, ROOT_CONTEXT);
  const checkout = clients.checkout.tracer.startSpan(
    'PlaceOrder',
    {},
    trace.setSpan(ROOT_CONTEXT, root),
  );
  const inventory = clients.inventory.tracer.startSpan(
    'Reserve',
    {},
    trace.setSpan(ROOT_CONTEXT, checkout),
  );
  if (failed) inventory.setStatus({ code: SpanStatusCode.ERROR, message: 'out of stock' });
  inventory.end();
  checkout.end();
  root.end();
  return root.spanContext().traceId;
}

function createClients(nodes) {
  return {
    frontend: new ServiceClient({
      serviceName: 'frontend',
      protocol: 'grpc',
      endpoints: nodes[0].endpoints,
    }),
    checkout: new ServiceClient({
      serviceName: 'checkout',
      protocol: 'http/protobuf',
      endpoints: nodes[1].endpoints,
    }),
    inventory: new ServiceClient({
      serviceName: 'inventory',
      protocol: 'http/json',
      endpoints: nodes[2].endpoints,
    }),
  };
}

// Sends a round of traces (every other one failed) and flushes every client; returns the IDs of
// the failed and the healthy traces. Children are exported before their parents, as SDKs do.
async function sendRound(clients) {
  const failed = [];
  const healthy = [];
  for (let t = 0; t < TRACES_PER_ROUND; t += 1) {
    (t % 2 === 0 ? failed : healthy).push(sendTrace(clients, t % 2 === 0));
  }
  for (const name of ['inventory', 'checkout', 'frontend']) await clients[name].flush();
  return { failed, healthy };
}

// The spans of a Jaeger trace as sorted "service/operation/spanID<-parentID" lines.
function shapeOf(jaegerTrace) {
  return jaegerTrace.spans
    .map((s) => {
      const parent = s.references.find((r) => r.refType === 'CHILD_OF')?.spanID ?? '-';
      return `${jaegerTrace.processes[s.processID].serviceName}/${s.operationName}/${s.spanID}<-${parent}`;
    })
    .sort();
}

// Waits until `traceId` reads as three spans from `node`, and returns its shape.
async function readWhole(node, traceId, timeoutMs = READ_TIMEOUT_MS) {
  return pollUntil(
    `trace ${traceId} whole (3 spans) on ${node.endpoints.query}`,
    async (seen) => {
      const res = await httpGet(node.queryUrl(`/api/traces/${traceId}`));
      seen(`HTTP ${res.status} ${res.body.slice(0, 300)}`);
      if (res.status !== 200) return undefined;
      const spans = res.json.data[0].spans;
      return spans.length === 3 ? shapeOf(res.json.data[0]) : undefined;
    },
    { timeoutMs },
  );
}

async function metricSum(nodes, name) {
  let sum = 0;
  for (const node of nodes) {
    const text = (await httpGet(node.adminUrl('/metrics'))).body;
    for (const line of text.split('\n')) {
      if (line.startsWith(`${name} `)) sum += Number(line.split(' ')[1]);
    }
  }
  return sum;
}

describe('a cluster of three nodes', () => {
  let port;
  const nodes = [];
  let clients;
  let round1;

  before(async () => {
    port = await freePortOnAll();
    for (let i = 0; i < HOSTS.length; i += 1) nodes.push(await startNode(i, port));
    clients = createClients(nodes);
  });

  after(async () => {
    if (clients) {
      await Promise.all(Object.values(clients).map((c) => c.shutdown().catch(() => {})));
    }
    await Promise.all(nodes.map((n) => n.cleanup()));
  });

  test('every error trace is whole and identical from any node; no other trace is kept', async () => {
    round1 = await sendRound(clients);
    for (const traceId of round1.failed) {
      const shapes = [];
      for (const node of nodes) shapes.push(await readWhole(node, traceId));
      assert.deepEqual(shapes[1], shapes[0], `trace ${traceId} differs between nodes 0 and 1`);
      assert.deepEqual(shapes[2], shapes[0], `trace ${traceId} differs between nodes 0 and 2`);
      assert.equal(new Set(shapes[0].map((l) => l.split('/')[0])).size, 3);
    }
    // The healthy traces were decided (dropped) with their error-free spans; once the kept ones
    // are readable, the healthy ones have been decided too (they were sent first).
    for (const traceId of round1.healthy) {
      for (const node of nodes) {
        const res = await httpGet(node.queryUrl(`/api/traces/${traceId}`));
        assert.equal(res.status, 404, `trace ${traceId} without an error was kept (split?)`);
      }
    }
    const stored = await metricSum(nodes, 'tailtrace_stored_spans_total');
    assert.equal(stored, 3 * round1.failed.length, 'each kept span stored exactly once');
  });

  test('a search returns the same traces from any node', async () => {
    const want = [...round1.failed].sort();
    for (const node of nodes) {
      const body = await getJson(node.queryUrl('/api/traces?service=inventory&limit=1000&lookback=1h'));
      assert.equal(body.errors, null, `search from ${node.endpoints.query}: ${JSON.stringify(body.errors)}`);
      assert.deepEqual(body.data.map((t) => t.traceID).sort(), want);
    }
  });

  test('a killed node fails over; queries name it; restarted, it rejoins', async () => {
    const victim = nodes[2];
    await victim.kill('SIGKILL');
    // Its service now sends to node 0; the clients must keep getting successes.
    clients.inventory = new ServiceClient({
      serviceName: 'inventory',
      protocol: 'http/json',
      endpoints: nodes[0].endpoints,
    });
    const round2 = await sendRound(clients);
    for (const traceId of round2.failed) await readWhole(nodes[0], traceId);

    const search = await getJson(nodes[0].queryUrl('/api/services'));
    assert.ok(
      (search.errors ?? []).some((e) => e.msg.includes(`${HOSTS[2]}:${port}`)),
      `the dead member is named in errors: ${JSON.stringify(search.errors)}`,
    );

    await victim.restart();
    // Its peers probe it every second: each sees it live again, and reaches it.
    for (const node of nodes) {
      await pollUntil(
        `the restarted member live again and answering on ${node.endpoints.query}`,
        async (seen) => {
          const status = await getJson(node.queryUrl('/api/cluster'));
          const services = await getJson(node.queryUrl('/api/services'));
          seen(`${JSON.stringify(status)} ${JSON.stringify(services.errors)}`);
          const member = status.members.find((m) => m.name === `${HOSTS[2]}:${port}`);
          const live = status.liveMembers === 3 && member?.state === 'up';
          return live && services.errors === null ? true : undefined;
        },
        { timeoutMs: 15_000 },
      );
    }
    // Everything it stored before the kill is readable from any node, without errors.
    for (const traceId of [...round1.failed, ...round2.failed]) {
      for (const node of nodes) {
        const res = await getJson(node.queryUrl(`/api/traces/${traceId}`));
        assert.equal(res.errors, null, `trace ${traceId} from ${node.endpoints.query}`);
        assert.equal(res.data[0].spans.length, 3, `trace ${traceId} after the restart`);
      }
    }
  });
});

// Long enough that the traces under way when the new node joins are still undecided at their
// old owner when their last spans come (membership takes a probe period or two to change on
// every node): the handover keeps spans of a trace with the owner that buffers it for
// decision_wait after a change (cluster/span_router.h). Spans later than that are late spans,
// decided on their own at the new owner.
const JOIN_DECISION_WAIT_MS = 5000;

describe('a node joining while traffic flows', () => {
  const nodes = [];
  const clients = [];

  after(async () => {
    await Promise.all(clients.map((c) => Object.values(c).map((s) => s.shutdown().catch(() => {}))).flat());
    await Promise.all(nodes.map((n) => n.cleanup()));
  });

  test('splits no trace', async () => {
    const port = await freePortOnAll();
    nodes.push(
      await startNode(0, port, JOIN_DECISION_WAIT_MS),
      await startNode(1, port, JOIN_DECISION_WAIT_MS),
    );
    // Both see the third member down (nothing answers there) before it starts.
    for (const node of nodes) {
      await pollUntil(
        `the third member down on ${node.endpoints.query}`,
        async (seen) => {
          const status = await getJson(node.queryUrl('/api/cluster'));
          seen(JSON.stringify(status));
          return status.liveMembers === 2 ? true : undefined;
        },
        { timeoutMs: 10_000 },
      );
    }
    // frontend and checkout on nodes 0 and 1, inventory on node 1 until the third node is up.
    const sending = {
      frontend: new ServiceClient({ serviceName: 'frontend', protocol: 'grpc', endpoints: nodes[0].endpoints }),
      checkout: new ServiceClient({ serviceName: 'checkout', protocol: 'http/protobuf', endpoints: nodes[1].endpoints }),
      inventory: new ServiceClient({ serviceName: 'inventory', protocol: 'http/json', endpoints: nodes[1].endpoints }),
    };
    clients.push(sending);
    const failed = [];
    const healthy = [];
    // Traces under way when the third node joins: their first spans before, the rest after.
    const early = [];
    for (let t = 0; t < TRACES_PER_ROUND; t += 1) early.push(sendTraceInTwoParts(sending, t % 2 === 0));
    await sending.inventory.flush();
    await sending.checkout.flush();
    nodes.push(await startNode(2, port, JOIN_DECISION_WAIT_MS));
    // The others see it join (their probes reach it) before the early traces' roots are sent:
    // about a third of those traces now have the new node as owner.
    for (const node of nodes.slice(0, 2)) {
      await pollUntil(
        `the new member live on ${node.endpoints.query}`,
        async (seen) => {
          const status = await getJson(node.queryUrl('/api/cluster'));
          seen(JSON.stringify(status));
          return status.liveMembers === 3 ? true : undefined;
        },
        { timeoutMs: 10_000 },
      );
    }
    for (const part of early) {
      part.finish();
      (part.failed ? failed : healthy).push(part.traceId);
    }
    await sending.frontend.flush();
    // Traces during the handover, all three services through every node.
    const third = {
      ...sending,
      inventory: new ServiceClient({ serviceName: 'inventory', protocol: 'http/json', endpoints: nodes[2].endpoints }),
    };
    clients.push(third);
    const round = await sendRound(third);
    failed.push(...round.failed);
    healthy.push(...round.healthy);

    for (const traceId of failed) {
      await readWhole(nodes[2], traceId, JOIN_DECISION_WAIT_MS + 10_000);
    }
    for (const traceId of healthy) {
      const res = await httpGet(nodes[0].queryUrl(`/api/traces/${traceId}`));
      assert.equal(res.status, 404, `trace ${traceId} without an error was kept (split?)`);
    }
    const stored = await metricSum(nodes, 'tailtrace_stored_spans_total');
    assert.equal(stored, 3 * failed.length, 'each kept span stored exactly once');
  });
});

// A trace whose inventory and checkout spans end now and whose root ends at finish().
function sendTraceInTwoParts(clients, failed) {
  const root = clients.frontend.tracer.startSpan('GET /checkout', {}, ROOT_CONTEXT);
  const checkout = clients.checkout.tracer.startSpan('PlaceOrder', {}, trace.setSpan(ROOT_CONTEXT, root));
  const inventory = clients.inventory.tracer.startSpan('Reserve', {}, trace.setSpan(ROOT_CONTEXT, checkout));
  if (failed) inventory.setStatus({ code: SpanStatusCode.ERROR, message: 'out of stock' });
  inventory.end();
  checkout.end();
  return { traceId: root.spanContext().traceId, failed, finish: () => root.end() };
}
