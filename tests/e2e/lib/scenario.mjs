// The traces the end-to-end tests send: built with real OpenTelemetry JS SDK tracers, one
// provider per simulated service, parented across services by explicit context propagation
// (api.trace.setSpan on a context, as an instrumented RPC would carry it).

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ServiceClient } from './sdk.mjs';

// The span attributes of the root span: one of each OTLP value type the JS SDK can produce.
export const ROOT_ATTRIBUTES = Object.freeze({
  'http.request.method': 'GET',
  'url.path': '/checkout',
  'e2e.string': 'héllo "world"', // non-ASCII and a quote survive JSON both ways
  'e2e.bool.true': true,
  'e2e.bool.false': false,
  'e2e.int': 42,
  'e2e.int.negative': -7,
  'e2e.int.large': 9_007_199_254_740_991, // 2^53-1, the largest int64 a JS number holds exactly
  'e2e.double': 3.25,
  'e2e.double.negative': -0.5,
  'e2e.string_array': ['alpha', 'beta', 'gamma'],
  'e2e.int_array': [1, 2, 3],
  'e2e.double_array': [1.5, 2.25],
  'e2e.bool_array': [true, false],
  'http.response.status_code': 200,
});

export class CardDeclinedError extends Error {
  constructor(message) {
    super(message);
    this.name = 'CardDeclinedError';
  }
}

// Nanosecond clock for explicit span times: a fixed base near "now" with offsets that have
// sub-microsecond parts, so truncation to the Jaeger API's microseconds is exercised.
export class Timeline {
  constructor() {
    // Whole milliseconds of now, minus one minute so every span is safely in the past.
    this.baseNs = BigInt(Date.now() - 60_000) * 1_000_000n;
  }

  // HrTime [seconds, nanos] at base + offsetNs.
  at(offsetNs) {
    const ns = this.baseNs + BigInt(offsetNs);
    return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
  }
}

// Creates the frontend/checkout/inventory clients exporting over `protocol`.
export function createShopServices(protocol, endpoints, { compression = 'none' } = {}) {
  const make = (serviceName) =>
    new ServiceClient({
      serviceName,
      protocol,
      endpoints,
      compression,
      resourceAttributes: {
        'deployment.environment': 'e2e',
        'host.name': `${serviceName}-host-1`,
        'service.version': '2.4.1',
        'e2e.protocol': protocol,
        'e2e.resource.int': 7,
        'e2e.resource.bool': true,
      },
    });
  return { frontend: make('frontend'), checkout: make('checkout'), inventory: make('inventory') };
}

// Builds (and ends) the checkout trace on the three services' tracers:
//
//   frontend  GET /checkout (SERVER, root, status OK, every attribute type)
//   ├─ frontend  render cart (INTERNAL, two events)
//   └─ frontend  POST /api/checkout (CLIENT)
//      └─ checkout  POST /api/checkout (SERVER)
//         ├─ checkout  validate cart (INTERNAL, status ERROR + recordException)
//         ├─ checkout  publish order.created (PRODUCER)
//         │  └─ inventory  process order.created (CONSUMER, link to a span of ANOTHER trace)
//         └─ checkout  GET /inventory/reserve (CLIENT)
//            └─ inventory  GET /inventory/reserve (SERVER)
//               └─ inventory  reserve stock (INTERNAL, link to "render cart" in the same trace)
//
// plus a separate one-span trace "nightly restock" (inventory) that the consumer span links to.
// Returns { traceId, otherTraceId, spanCount }.
export function buildCheckoutTrace({ frontend, checkout, inventory }) {
  const t = new Timeline();
  const ms = 1_000_000; // nanoseconds per millisecond
  const child = (parent) => trace.setSpan(ROOT_CONTEXT, parent);

  const restock = inventory.tracer.startSpan(
    'nightly restock',
    { kind: SpanKind.INTERNAL, startTime: t.at(-5_000 * ms + 17), attributes: { 'job.id': 'r-7' } },
    ROOT_CONTEXT,
  );
  restock.end(t.at(-4_000 * ms + 999));

  const root = frontend.tracer.startSpan(
    'GET /checkout',
    { kind: SpanKind.SERVER, startTime: t.at(0), attributes: { ...ROOT_ATTRIBUTES } },
    ROOT_CONTEXT,
  );

  const render = frontend.tracer.startSpan(
    'render cart',
    { kind: SpanKind.INTERNAL, startTime: t.at(1 * ms + 123) },
    child(root),
  );
  render.addEvent(
    'cart.loaded',
    { 'cart.items': 3, 'cart.currency': 'EUR', 'cart.gift': false, 'cart.total': 99.5 },
    t.at(2 * ms + 456),
  );
  render.addEvent('cache.miss', undefined, t.at(3 * ms + 789));
  render.end(t.at(4 * ms + 1));

  const frontendClient = frontend.tracer.startSpan(
    'POST /api/checkout',
    {
      kind: SpanKind.CLIENT,
      startTime: t.at(5 * ms + 500),
      attributes: { 'http.request.method': 'POST', 'server.address': 'checkout', 'server.port': 8080 },
    },
    child(root),
  );

  const checkoutServer = checkout.tracer.startSpan(
    'POST /api/checkout',
    {
      kind: SpanKind.SERVER,
      startTime: t.at(6 * ms + 1),
      attributes: { 'http.request.method': 'POST', 'http.route': '/api/checkout' },
    },
    child(frontendClient),
  );

  const validate = checkout.tracer.startSpan(
    'validate cart',
    { kind: SpanKind.INTERNAL, startTime: t.at(7 * ms + 250), attributes: { 'cart.id': 'c-1' } },
    child(checkoutServer),
  );
  validate.recordException(new CardDeclinedError('card declined: insufficient funds'), t.at(8 * ms + 5));
  validate.setStatus({ code: SpanStatusCode.ERROR, message: 'payment validation failed' });
  validate.end(t.at(9 * ms + 999));

  const publish = checkout.tracer.startSpan(
    'publish order.created',
    {
      kind: SpanKind.PRODUCER,
      startTime: t.at(10 * ms + 10),
      attributes: { 'messaging.system': 'kafka', 'messaging.destination.name': 'orders' },
    },
    child(checkoutServer),
  );
  publish.end(t.at(11 * ms + 11));

  const checkoutClient = checkout.tracer.startSpan(
    'GET /inventory/reserve',
    { kind: SpanKind.CLIENT, startTime: t.at(12 * ms + 1) },
    child(checkoutServer),
  );

  const inventoryServer = inventory.tracer.startSpan(
    'GET /inventory/reserve',
    {
      kind: SpanKind.SERVER,
      startTime: t.at(13 * ms + 2),
      attributes: { 'http.route': '/inventory/reserve' },
    },
    child(checkoutClient),
  );
  const reserve = inventory.tracer.startSpan(
    'reserve stock',
    {
      kind: SpanKind.INTERNAL,
      startTime: t.at(14 * ms + 3),
      attributes: { 'db.system': 'postgresql', 'e2e.rows': 2 },
      links: [{ context: render.spanContext(), attributes: { 'link.reason': 'same-trace' } }],
    },
    child(inventoryServer),
  );
  reserve.end(t.at(20 * ms + 4));
  inventoryServer.end(t.at(21 * ms + 5));
  checkoutClient.end(t.at(22 * ms + 6));

  const consume = inventory.tracer.startSpan(
    'process order.created',
    {
      kind: SpanKind.CONSUMER,
      startTime: t.at(23 * ms + 7),
      attributes: { 'messaging.system': 'kafka', 'messaging.operation.type': 'process' },
      links: [
        { context: restock.spanContext(), attributes: { 'link.reason': 'other-trace', 'link.n': 2 } },
      ],
    },
    child(publish),
  );
  consume.addEvent('order.processed', { 'order.id': 'o-9', 'order.lines': 4 }, t.at(24 * ms + 8));
  consume.end(t.at(25 * ms + 9));

  checkoutServer.end(t.at(3_100 * ms + 321)); // the slow one: 3.1 s
  frontendClient.end(t.at(3_102 * ms + 654));
  root.setStatus({ code: SpanStatusCode.OK });
  root.end(t.at(3_105 * ms + 987));

  return {
    traceId: root.spanContext().traceId,
    otherTraceId: restock.spanContext().traceId,
    spanCount: 10,
  };
}

// Names of the operations each service produces in buildCheckoutTrace (the other trace included).
export const SHOP_OPERATIONS = Object.freeze({
  frontend: ['GET /checkout', 'render cart', 'POST /api/checkout'],
  checkout: ['POST /api/checkout', 'validate cart', 'publish order.created', 'GET /inventory/reserve'],
  inventory: ['GET /inventory/reserve', 'reserve stock', 'process order.created', 'nightly restock'],
});

// Sends the checkout trace over `protocol`, one export per service (leaf services first, so the
// root arrives last and the whole trace is in the sampler before decision_wait_after_root).
// Returns { traceId, otherTraceId, spanCount, expected, expectedOther, exportsPerService }.
export async function sendCheckoutTrace(daemon, protocol, options = {}) {
  const services = createShopServices(protocol, daemon.endpoints, options);
  try {
    const ids = buildCheckoutTrace(services);
    const exportsPerService = {};
    for (const name of ['inventory', 'checkout', 'frontend']) {
      exportsPerService[name] = await services[name].flush();
    }
    const all = Object.values(services).flatMap((s) => s.expectedSpans());
    return {
      ...ids,
      expected: all.filter((s) => s.traceId === ids.traceId),
      expectedOther: all.filter((s) => s.traceId === ids.otherTraceId),
      exportsPerService,
    };
  } finally {
    await Promise.all(Object.values(services).map((s) => s.shutdown()));
  }
}
