// Helpers of the cluster end-to-end test: starting several real tailtraced nodes as one cluster
// on 127/8 addresses, the trace-ownership contract of cluster/ownership.h (to know which node
// must hold a trace), /metrics parsing and GET /api/cluster.

import net from 'node:net';

import { getJson, httpGet, pollUntil, startDaemon } from './daemon.mjs';

// ---------------------------------------------------------------------------------------------
// Ownership: rendezvous hashing of the trace ID over the member names. This is the contract
// documented in cluster/ownership.h (every node must compute the same owner, also across
// versions), computed here independently so that the test knows each trace's owner in advance:
//   Mix(x)            = MurmurHash3's 64-bit finalizer (fmix64)
//   member_hash(name) = Mix(FNV-1a 64 of the name's bytes)
//   trace_key(id)     = Mix(lo ^ Mix(hi)), hi and lo = bytes 0-7 and 8-15 read big-endian
//   weight            = Mix(trace_key ^ member_hash); equal weights: the smaller name wins.

const MASK64 = (1n << 64n) - 1n;

function mix64(x) {
  x ^= x >> 33n;
  x = (x * 0xff51afd7ed558ccdn) & MASK64;
  x ^= x >> 33n;
  x = (x * 0xc4ceb9fe1a85ec53n) & MASK64;
  x ^= x >> 33n;
  return x;
}

function memberHash(name) {
  let h = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(name, 'utf8')) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & MASK64;
  }
  return mix64(h);
}

function traceKey(traceIdHex) {
  if (!/^[0-9a-f]{32}$/.test(traceIdHex)) throw new Error(`not a trace ID: "${traceIdHex}"`);
  const hi = BigInt(`0x${traceIdHex.slice(0, 16)}`);
  const lo = BigInt(`0x${traceIdHex.slice(16)}`);
  return mix64(lo ^ mix64(hi));
}

// The members (names as the nodes spell them) in preference order for the trace: [0] owns it,
// [1] takes it when [0] is not live, and so on.
export function ownersInOrder(traceIdHex, members) {
  const key = traceKey(traceIdHex);
  return [...new Set(members)]
    .map((name) => ({ name, weight: mix64(key ^ memberHash(name)) }))
    .sort((a, b) => {
      if (a.weight !== b.weight) return a.weight > b.weight ? -1 : 1;
      return a.name < b.name ? -1 : 1;
    })
    .map((m) => m.name);
}

// The owner of the trace among `liveMembers`.
export function ownerOf(traceIdHex, liveMembers) {
  return ownersInOrder(traceIdHex, liveMembers)[0];
}

// ---------------------------------------------------------------------------------------------
// Starting a cluster

// Resolves when `port` could be bound on `host` (the probe is closed again), false if it is busy.
function canBind(host, port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => {
      const bound = server.address().port;
      server.close(() => resolve(bound));
    });
  });
}

// A port that is free on every host right now: the kernel picks one on the first host, the others
// are probed; a port busy somewhere is given up and another one tried.
export async function pickSharedPort(hosts, attempts = 20) {
  for (let i = 0; i < attempts; i++) {
    const port = await canBind(hosts[0], 0);
    if (!port) break;
    let free = true;
    for (const host of hosts.slice(1)) {
      if (!(await canBind(host, port))) {
        free = false;
        break;
      }
    }
    if (free) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')} after ${attempts} attempts`);
}

// The top-level YAML of one member: the cluster section, plus `extraYaml` (e.g. a `wal:` line).
export function clusterYaml(self, members, { peerTimeout = '2s', queryTimeout = '2s' } = {}) {
  return [
    'cluster:',
    `  self: ${self}`,
    '  peers:',
    `    static: [${members.join(', ')}]`,
    `  peer_timeout: ${peerTimeout}`,
    `  query_timeout: ${queryTimeout}`,
  ].join('\n');
}

// Starts member `i` of the cluster of `hosts` (host:port each, every one a static peer): its
// OTLP/gRPC receiver on hosts[i]:port (its member name and `self`), every other listener on
// hosts[i]:0. `options` go to startDaemon (samplingYaml, decisionWait, ...); `extraYaml` is added
// after the cluster section, `clusterOptions` go to clusterYaml(). Resolves to the Daemon.
export function startMember(hosts, i, port, options = {}) {
  const { extraYaml = '', clusterOptions = {}, ...daemonOptions } = options;
  const members = hosts.map((h) => `${h}:${port}`);
  const host = hosts[i];
  const cluster = clusterYaml(members[i], members, clusterOptions);
  return startDaemon({
    ...daemonOptions,
    endpoints: { grpc: members[i], http: `${host}:0`, query: `${host}:0`, admin: `${host}:0` },
    extraYaml: extraYaml ? `${cluster}\n${extraYaml}` : cluster,
  });
}

// Starts one member per host at once (startMember), on a port probed free on every host. If a
// node still finds the port taken (another process bound it meanwhile), every node is stopped and
// the cluster is started again on another port. `options` may also be a function of the member's
// index returning its options (e.g. each member's own storage endpoint). Resolves to
// { port, members, nodes: [{ host, member, daemon }] }.
export async function startCluster(hosts, options = {}) {
  let lastError;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const port = await pickSharedPort(hosts);
    const members = hosts.map((h) => `${h}:${port}`);
    const started = await Promise.allSettled(
      hosts.map((_, i) =>
        startMember(hosts, i, port, typeof options === 'function' ? options(i) : options),
      ),
    );
    const failed = started.filter((s) => s.status === 'rejected');
    if (failed.length === 0) {
      return {
        port,
        members,
        nodes: started.map((s, i) => ({ host: hosts[i], member: members[i], daemon: s.value })),
      };
    }
    const running = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
    await Promise.all(running.map((d) => d.cleanup()));
    lastError = failed[0].reason;
    if (!failed.every((f) => /Address already in use/.test(f.reason?.message ?? ''))) break;
  }
  throw lastError;
}

// ---------------------------------------------------------------------------------------------
// /metrics and /api/cluster

// Prometheus text -> [{ name, labels: {k: v}, value }] (comments skipped).
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? (\S+)$/);
    if (!m) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

// The sum of the samples named `name` whose labels include `labels` (0 when there is none).
export function metricSum(samples, name, labels = {}) {
  return samples
    .filter((s) => s.name === name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

// The parsed /metrics of a node.
export async function readMetrics(daemon) {
  const r = await httpGet(daemon.adminUrl('/metrics'));
  if (r.status !== 200) throw new Error(`GET ${r.url}: HTTP ${r.status}: ${r.body.slice(0, 500)}`);
  return parseMetrics(r.body);
}

// GET /api/cluster of a node: { self, liveMembers, members: [{ name, state, ... }], dns }.
export function clusterStatus(daemon) {
  return getJson(daemon.queryUrl('/api/cluster'));
}

// "name=state, ..." of a /api/cluster body, for messages.
export function describeMembers(status) {
  return status.members.map((m) => `${m.name}=${m.state}`).join(', ');
}

// Resolves once every node sees all `size` members live and `settleMs` have passed since the call
// (the start-up handover: for decision_wait after it starts, a node routes as if it were joining,
// cluster/span_router.h).
export async function awaitClusterFormed(cluster, size, settleMs) {
  const readyAtMs = Date.now();
  await pollUntil(
    `every node to see ${size} members live, ${settleMs} ms after the start`,
    async (seen) => {
      const views = await Promise.all(cluster.nodes.map(({ daemon }) => clusterStatus(daemon)));
      seen(views.map(describeMembers).join(' | '));
      const allLive = views.every(
        (v) => v.liveMembers === size && v.members.every((m) => m.state === 'up'),
      );
      return allLive && Date.now() >= readyAtMs + settleMs ? true : undefined;
    },
  );
}
