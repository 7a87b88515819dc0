// End-to-end crash test: "kill -9 loses no acknowledged span". Real OpenTelemetry JS SDK
// exporters (OTLP/HTTP protobuf and OTLP/gRPC, side by side) send a steady stream of small traces
// to a keep-all tailtraced with the write-ahead log on; the daemon is SIGKILLed at random moments
// while many traces are still undecided in its memory, and restarted on the same data dir and
// ports. At the end every span whose export the daemon acknowledged (ExportResultCode.SUCCESS)
// must be readable through the Jaeger API, each span ID exactly once in its trace.
//
// Spans whose export failed or was in flight at a kill are not acknowledged and not checked:
// the daemon may or may not have them. They are never sent again, so a duplicate in the store is
// the daemon's (a replay of what it had already stored), not a client's resend.
//
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/crash.test.mjs
//   E2E_CRASH_SEED=1234 ...   # the kill moments of a reported run (its summary prints the seed)

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';

import { httpGet, pollUntil, startDaemon, truncate } from './lib/daemon.mjs';
import { createOtlpExporter } from './lib/sdk.mjs';

// Every request goes to the log before its client hears OK; fsync is not needed to survive the
// death of the process (only of the machine), and would make the test slower.
const WAL_YAML = 'wal: { enabled: true, fsync: false }';

// Rounds that end in a SIGKILL, then one clean round.
const KILL_ROUNDS = 4;
// A round's kill comes this long after its first export (drawn uniformly).
const KILL_AFTER_MS = [500, 3000];
// The clean last round sends this long before everything is read back.
const LAST_ROUND_MS = 1500;
// A new trace every TICK_MS while the daemon is up (about 4 spans each, over two transports).
const TICK_MS = 20;
// The later part of a split trace (its root) is sent this long after the first (drawn uniformly):
// often after a kill and restart, sometimes after the trace was decided (a late span).
const SPLIT_DELAY_MS = [200, 2500];
// decision_wait: long enough that at each kill the traces of the last two seconds are undecided
// and held only in memory (and the log), short enough to read them back soon after the last round.
const DECISION_WAIT = '2s';
const DECISION_WAIT_MS = 2000;
// Per-export timeout (retries included). A kill fails the exports in flight within about this
// long, and the next daemon is started only after they failed, so no export is retried into it.
const EXPORT_TIMEOUT_MS = 2000;
// How long the exports in flight at a kill may take to fail before the test gives up.
const SETTLE_TIMEOUT_MS = 4 * EXPORT_TIMEOUT_MS;
// How long after the last export every acknowledged span may take to become readable.
const READ_BACK_TIMEOUT_MS = DECISION_WAIT_MS + 10_000;
// Concurrent GET /api/traces/{id} while reading back.
const READ_CONCURRENCY = 8;

const SERVICES = Object.freeze({
  grpc: { serviceName: 'crash-grpc', protocol: 'grpc' },
  http: { serviceName: 'crash-http', protocol: 'http/protobuf' },
});

// mulberry32: a small seeded PRNG, so that a failing run's inputs can be replayed.
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const between = (rng, [lo, hi]) => lo + Math.floor(rng() * (hi - lo + 1));

// Collects the spans ended on a provider; buildTrace() takes them right after ending them.
class CollectingProcessor {
  constructor() {
    this.ended = [];
  }
  onStart() {}
  onEnd(span) {
    this.ended.push(span);
  }
  forceFlush() {
    return Promise.resolve();
  }
  shutdown() {
    return Promise.resolve();
  }
}

// The value of an unlabelled sample in Prometheus text, or undefined.
function metricValue(text, name) {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : undefined;
}

// The application side: builds traces with the SDK, exports them with exporter.export() and
// records which spans were acknowledged. Exports start only while the daemon is up (`open`); each
// daemon run gets new exporters (a fresh gRPC channel, no reconnect backoff left from the kill).
class Traffic {
  constructor(rng) {
    this.rng = rng;
    this.processor = new CollectingProcessor();
    this.tracers = {};
    for (const [key, { serviceName }] of Object.entries(SERVICES)) {
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ 'service.name': serviceName }),
        spanProcessors: [this.processor],
      });
      this.tracers[key] = provider.getTracer('e2e.crash', '1.0.0');
    }
    this.exporters = null;
    this.open = false;
    this.seq = 0;
    this.pending = []; // { dueMs, service, spans, traceId } not yet exported
    this.inFlight = new Set(); // promises of exports without a result yet
    this.sendWaiters = []; // nextSend() callers
    this.sent = new Map(); // spanId -> traceId, every span ever put in an export
    this.acked = new Map(); // traceId -> Set of acknowledged spanIds
    this.ackedSpans = 0;
    this.exports = { acknowledged: 0, failed: 0 };
    this.ackedByProtocol = Object.fromEntries(Object.values(SERVICES).map((x) => [x.protocol, 0]));
    this.firstError = null;
    this.splitTraces = 0;
    this.crossTransportTraces = 0;
  }

  // New exporters pointed at `endpoints`, and exports may start.
  connect(endpoints) {
    this.exporters = {};
    for (const [key, { protocol }] of Object.entries(SERVICES)) {
      // A short timeout: a kill must fail the exports in flight quickly (see EXPORT_TIMEOUT_MS).
      this.exporters[key] = createOtlpExporter(protocol, endpoints, {
        timeoutMillis: EXPORT_TIMEOUT_MS,
      });
    }
    this.open = true;
  }

  // One trace: a SERVER root and 2-5 children, each child on the root's service or (1 in 4) on
  // the other one. Half the traces are split: the children go first (one request per service),
  // the root later; the rest go in one request per service at once.
  buildTrace(nowMs) {
    const rng = this.rng;
    const seq = ++this.seq;
    const keys = Object.keys(SERVICES);
    const rootKey = keys[Math.floor(rng() * keys.length)];
    const otherKey = keys.find((k) => k !== rootKey);
    this.processor.ended = [];
    const root = this.tracers[rootKey].startSpan(
      `GET /item/${seq % 7}`,
      { kind: SpanKind.SERVER, attributes: { 'crash.seq': seq } },
      ROOT_CONTEXT,
    );
    const parent = trace.setSpan(ROOT_CONTEXT, root);
    const children = 2 + Math.floor(rng() * 4);
    let crossTransport = false;
    for (let i = 0; i < children; i++) {
      const key = rng() < 0.25 ? otherKey : rootKey;
      crossTransport ||= key !== rootKey;
      const kind = i % 2 === 0 ? SpanKind.CLIENT : SpanKind.INTERNAL;
      const attributes = { 'crash.step': i };
      this.tracers[key].startSpan(`step ${i}`, { kind, attributes }, parent).end();
    }
    root.end();
    const spans = this.processor.ended;
    const traceId = root.spanContext().traceId;
    const split = rng() < 0.5;
    const byService = new Map();
    for (const span of spans) {
      if (split && span === root) continue;
      const serviceName = span.resource.attributes['service.name'];
      const key = keys.find((k) => SERVICES[k].serviceName === serviceName);
      if (!byService.has(key)) byService.set(key, []);
      byService.get(key).push(span);
    }
    for (const [service, part] of byService) {
      this.pending.push({ dueMs: nowMs, service, spans: part, traceId });
    }
    if (split) {
      this.splitTraces += 1;
      this.pending.push({
        dueMs: nowMs + between(rng, SPLIT_DELAY_MS),
        service: rootKey,
        spans: [root],
        traceId,
      });
    }
    if (crossTransport) this.crossTransportTraces += 1;
  }

  // Starts every pending export whose time has come (`all`: every pending one).
  sendDue(nowMs, { all = false } = {}) {
    if (!this.open) return;
    const keep = [];
    for (const p of this.pending) {
      if (all || p.dueMs <= nowMs) this.exportOne(p);
      else keep.push(p);
    }
    this.pending = keep;
  }

  exportOne({ service, spans, traceId }) {
    for (const s of spans) this.sent.set(s.spanContext().spanId, traceId);
    const done = new Promise((resolve) => {
      this.exporters[service].export(spans, (result) => {
        if (result.code === ExportResultCode.SUCCESS) {
          this.exports.acknowledged += 1;
          if (!this.acked.has(traceId)) this.acked.set(traceId, new Set());
          for (const s of spans) this.acked.get(traceId).add(s.spanContext().spanId);
          this.ackedSpans += spans.length;
          this.ackedByProtocol[SERVICES[service].protocol] += 1;
        } else {
          this.exports.failed += 1;
          const why = result.error?.message ?? String(result.error);
          this.firstError ??= `${SERVICES[service].protocol}: ${why}`;
        }
        resolve();
      });
    });
    this.inFlight.add(done);
    done.then(() => this.inFlight.delete(done));
  }

  // Makes a trace every TICK_MS and sends what is due, until `untilMs` (Date.now() scale) or
  // until exports are closed (a kill).
  async run(untilMs = Infinity) {
    while (this.open && Date.now() < untilMs) {
      const now = Date.now();
      this.buildTrace(now);
      this.sendDue(now);
      for (const resolve of this.sendWaiters.splice(0)) resolve();
      await delay(TICK_MS);
    }
  }

  // Resolves right after run() has started the exports of its next tick.
  nextSend() {
    return new Promise((resolve) => this.sendWaiters.push(resolve));
  }

  // No new exports; resolves once every export in flight has its result (the ones the kill cut
  // off fail within EXPORT_TIMEOUT_MS), then shuts the exporters down.
  async close() {
    this.open = false;
    const settled = Promise.allSettled([...this.inFlight]).then(() => 'settled');
    const timeout = delay(SETTLE_TIMEOUT_MS, 'timeout', { ref: false });
    if ((await Promise.race([settled, timeout])) === 'timeout') {
      throw new Error(
        `${this.inFlight.size} OTLP exports still without a result ${SETTLE_TIMEOUT_MS} ms after ` +
          'the senders stopped',
      );
    }
    await Promise.all(Object.values(this.exporters).map((e) => e.shutdown()));
    this.exporters = null;
  }
}

// Runs `fn` on every item, READ_CONCURRENCY at a time.
async function forEachLimited(items, fn) {
  for (let i = 0; i < items.length; i += READ_CONCURRENCY) {
    await Promise.all(items.slice(i, i + READ_CONCURRENCY).map(fn));
  }
}

// Reads the traces with acknowledged spans through GET /api/traces/{id} until each holds all of
// its acknowledged spans (a trace is readable once decided), or until the deadline; a trace
// complete once is not read again. Resolves to the IDs of the traces still incomplete at the end.
async function readBack(daemon, acked, timeoutMs) {
  const incomplete = new Set(acked.keys());
  await pollUntil(
    `all ${acked.size} traces with acknowledged spans to be readable`,
    async (seen) => {
      await forEachLimited([...incomplete], async (id) => {
        const have = new Set(await readTraceSpanIds(daemon, id));
        if ([...acked.get(id)].every((s) => have.has(s))) incomplete.delete(id);
      });
      seen(`${incomplete.size} traces still lack acknowledged spans`);
      return incomplete.size === 0 ? true : undefined;
    },
    { daemon, timeoutMs, intervalMs: 250 },
  ).catch((err) => {
    // Running out of time is an outcome the caller reports (the missing spans); a dead daemon
    // is not. (A query that keeps failing fails the caller's final read.)
    if (!err.message.startsWith('timed out')) throw err;
  });
  return incomplete;
}

// The spanIDs of GET /api/traces/{id} (every span of every data entry); [] for a 404.
async function readTraceSpanIds(daemon, traceId) {
  const r = await httpGet(daemon.queryUrl(`/api/traces/${traceId}`));
  if (r.status === 404) return [];
  if (r.status !== 200 || !Array.isArray(r.json?.data)) {
    throw new Error(`GET /api/traces/${traceId}: HTTP ${r.status}: ${truncate(r.body, 500)}`);
  }
  return r.json.data.flatMap((t) => (t.spans ?? []).map((s) => s.spanID));
}

describe('kill -9 loses no acknowledged span (write-ahead log)', () => {
  const seed = Number(process.env.E2E_CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
  if (!Number.isSafeInteger(seed)) {
    throw new Error(`E2E_CRASH_SEED must be an integer, got "${process.env.E2E_CRASH_SEED}"`);
  }
  let daemon;

  before(async () => {
    daemon = await startDaemon({
      // No policies: every trace is kept, so every acknowledged span must be stored.
      decisionWait: DECISION_WAIT,
      // Not shorter than decision_wait: a trace whose root came early is still held at a kill.
      decisionWaitAfterRoot: DECISION_WAIT,
      extraYaml: WAL_YAML,
    });
  });

  after(async () => {
    await daemon?.cleanup();
  });

  test('SIGKILL at random moments, restart on the same data dir: every acknowledged span is stored once', async (t) => {
    // Two streams from one seed: the kill moments replay exactly; how many traces there are
    // between two kills depends on the machine's speed.
    const rng = seededRandom(seed);
    const traffic = new Traffic(seededRandom(seed ^ 0x5bd1e995));
    const rounds = [];

    for (let round = 1; round <= KILL_ROUNDS + 1; round++) {
      const last = round === KILL_ROUNDS + 1;
      const info = { round };
      if (round > 1) {
        // Same dir, same ports: start-up replays the log before the ready line.
        await daemon.restart();
        const metrics = (await httpGet(daemon.adminUrl('/metrics'))).body;
        info.replayedSpans = metricValue(metrics, 'tailtrace_wal_replayed_spans_total');
      }
      traffic.connect(daemon.endpoints);
      // Traces split by the previous kill go first: their roots are overdue.
      traffic.sendDue(Date.now());
      if (last) {
        await traffic.run(Date.now() + LAST_ROUND_MS);
        traffic.sendDue(Date.now(), { all: true });
        await traffic.close();
      } else {
        // The kill is the test's input, drawn from the seed; it comes while the senders run, so
        // some exports are in flight (sent, not yet answered) when it lands.
        info.killAfterMs = between(rng, KILL_AFTER_MS);
        const kill = delay(info.killAfterMs).then(async () => {
          // How many traces the sampler holds undecided right now: what a kill without a log
          // would lose (taken a few milliseconds before the kill).
          const metrics = (await httpGet(daemon.adminUrl('/metrics'))).body;
          info.undecidedAtKill = metricValue(metrics, 'tailtrace_sampler_traces_buffered');
          // 0-3 ms after a tick's exports started: some are on the wire or being taken in.
          await traffic.nextSend();
          await delay(between(rng, [0, 3]));
          const exited = daemon.kill('SIGKILL'); // the signal is sent before this returns
          traffic.open = false; // in the same turn: no export starts after the kill
          info.inFlightAtKill = traffic.inFlight.size;
          return exited;
        });
        // If the kill itself fails, stop the senders too; `await kill` below reports the error.
        kill.catch(() => {
          traffic.open = false;
        });
        await traffic.run();
        const exit = await kill;
        assert.equal(exit.signal, 'SIGKILL', `round ${round}: tailtraced ${daemon.describeExit()}`);
        await traffic.close();
      }
      info.ackedSpansSoFar = traffic.ackedSpans;
      rounds.push(info);
    }

    await readBack(daemon, traffic.acked, READ_BACK_TIMEOUT_MS);

    // A last look at every trace once the sampler holds nothing, so that a duplicate written after
    // a trace first looked complete is seen too.
    await pollUntil(
      'the sampler to hold no undecided trace',
      async () => {
        const text = (await httpGet(daemon.adminUrl('/metrics'))).body;
        return metricValue(text, 'tailtrace_sampler_traces_buffered') === 0 ? true : undefined;
      },
      { daemon },
    );
    const lastRead = new Map();
    await forEachLimited([...traffic.acked.keys()], async (id) => {
      lastRead.set(id, await readTraceSpanIds(daemon, id));
    });

    const missing = []; // `${traceId}/${spanId}` acknowledged but not stored
    const duplicated = []; // `${traceId}/${spanId} xN`
    const unknown = []; // spans read back that this test never sent (or sent in another trace)
    let found = 0;
    let tracesMissingSpans = 0;
    for (const [traceId, ackedIds] of traffic.acked) {
      const spanIds = lastRead.get(traceId);
      const counts = new Map();
      for (const s of spanIds) counts.set(s, (counts.get(s) ?? 0) + 1);
      const missingBefore = missing.length;
      for (const s of ackedIds) {
        if (counts.has(s)) found += 1;
        else missing.push(`${traceId}/${s}`);
      }
      if (missing.length > missingBefore) tracesMissingSpans += 1;
      for (const [s, n] of counts) {
        if (n > 1) duplicated.push(`${traceId}/${s} x${n}`);
        if (traffic.sent.get(s) !== traceId) unknown.push(`${traceId}/${s}`);
      }
    }

    const kills = rounds.filter((r) => r.killAfterMs !== undefined);
    const summary = {
      seed,
      rounds: rounds.length,
      kills: kills.length,
      rounds_detail: rounds,
      traces: traffic.seq,
      split_traces: traffic.splitTraces,
      cross_transport_traces: traffic.crossTransportTraces,
      exports: traffic.exports,
      acknowledged_exports_by_protocol: traffic.ackedByProtocol,
      exports_in_flight_at_kills: kills.reduce((n, r) => n + r.inFlightAtKill, 0),
      first_failed_export: traffic.firstError,
      spans_sent: traffic.sent.size,
      acknowledged_spans: traffic.ackedSpans,
      traces_with_acknowledged_spans: traffic.acked.size,
      spans_found: found,
      missing: missing.length,
      traces_missing_spans: tracesMissingSpans,
      duplicated: duplicated.length,
      unknown: unknown.length,
    };
    t.diagnostic(
      `crash: ${rounds.length} rounds, ${kills.length} kills, ${traffic.ackedSpans} acknowledged ` +
        `spans, ${found} found, ${missing.length} missing, ${duplicated.length} duplicated ` +
        `(seed ${seed})`,
    );
    t.diagnostic(`crash summary: ${JSON.stringify(summary)}`);

    // The run must have exercised what the log is for: acknowledged spans of undecided traces
    // in memory at a kill, and acknowledged exports over both transports.
    assert.equal(kills.length, KILL_ROUNDS);
    assert.ok(
      kills.some((r) => r.undecidedAtKill > 0),
      `no kill found an undecided trace in the sampler: ${JSON.stringify(kills)}`,
    );
    for (const [protocol, n] of Object.entries(traffic.ackedByProtocol)) {
      assert.ok(n > 0, `no ${protocol} export acknowledged; first failure: ${traffic.firstError}`);
    }

    const show = (list) => `${list.slice(0, 10).join(', ')}${list.length > 10 ? ', ...' : ''}`;
    assert.deepEqual(
      { missing: missing.length, duplicated: duplicated.length, unknown: unknown.length },
      { missing: 0, duplicated: 0, unknown: 0 },
      `of ${traffic.ackedSpans} acknowledged spans (${traffic.acked.size} traces) ` +
        `${missing.length} are not stored (seed ${seed})` +
        (missing.length ? `\nmissing: ${show(missing)}` : '') +
        (duplicated.length ? `\nstored more than once: ${show(duplicated)}` : '') +
        (unknown.length ? `\nnever sent in that trace: ${show(unknown)}` : '') +
        `\n${JSON.stringify(summary)}`,
    );
  });

  // Last: after the crashes, the daemon still stops cleanly.
  test('SIGTERM after the crashes stops the daemon with exit code 0', async () => {
    const exit = await daemon.stop();
    assert.deepEqual(
      { code: exit.code, signal: exit.signal },
      { code: 0, signal: null },
      `tailtraced ${daemon.describeExit()} after SIGTERM\nstderr: ${daemon.stderrTail()}`,
    );
  });
});
