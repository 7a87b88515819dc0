// The UI tests' traces: the seed's slow checkout, built with real OpenTelemetry JS SDK tracers.
//
//   frontend  GET /checkout (SERVER, root)                              [0, end]
//   ├─ frontend  render cart (INTERNAL)                                  [3 ms, 20 ms]
//   └─ frontend  POST /api/checkout (CLIENT)                             [2 ms, ...]
//      └─ checkout  POST /api/checkout (SERVER)                          [4 ms, ...]
//         ├─ checkout  validate cart (INTERNAL)                          [8 ms, 30 ms]
//         └─ checkout  GET /inventory/reserve (CLIENT)                   [6 ms, ...]
//            └─ inventory  reserve stock (SERVER)    lasts `inventoryMs` [7 ms, ...]
//
// "render cart" and "validate cart" start after a sibling that ends later, and end before it, so
// they are the two spans off the critical path; every other span is on it. A slow trace's inventory span takes
// 2.8 s of its 2.9 s, the seed's "2.8 seconds in the inventory service".

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Timeline } from './scenario.mjs';

const MS = 1_000_000;

export const SHOP_SPANS = Object.freeze([
  { name: 'GET /checkout', service: 'frontend', depth: 0, critical: true },
  { name: 'render cart', service: 'frontend', depth: 1, critical: false },
  { name: 'POST /api/checkout', service: 'frontend', depth: 1, critical: true },
  { name: 'POST /api/checkout', service: 'checkout', depth: 2, critical: true },
  { name: 'validate cart', service: 'checkout', depth: 3, critical: false },
  {
    name: 'GET /inventory/reserve',
    service: 'checkout',
    depth: 3,
    critical: true,
  },
  { name: 'reserve stock', service: 'inventory', depth: 4, critical: true },
]);

// Builds (and ends) one shop trace starting `offsetMs` after the Timeline's base. Returns
// { traceId, spanIds: { [name@service]: spanId } }.
export function buildShopTrace(
  { frontend, checkout, inventory },
  { inventoryMs, offsetMs = 0, fail = false },
) {
  const t = new Timeline();
  const at = (ms) => t.at((offsetMs + ms) * MS);
  const child = (parent) => trace.setSpan(ROOT_CONTEXT, parent);
  const spanIds = {};
  const start = (tracer, name, kind, startMs, parent, attributes = {}) => {
    const span = tracer.startSpan(
      name,
      { kind, startTime: at(startMs), attributes },
      parent ? child(parent) : ROOT_CONTEXT,
    );
    return span;
  };
  const finish = (span, name, service, endMs) => {
    spanIds[`${name}@${service}`] = span.spanContext().spanId;
    span.end(at(endMs));
  };
  const reserveEnd = 7 + inventoryMs;
  const root = start(frontend.tracer, 'GET /checkout', SpanKind.SERVER, 0, null, {
    'http.request.method': 'GET',
    'user.id': 'ann',
  });
  const render = start(frontend.tracer, 'render cart', SpanKind.INTERNAL, 3, root);
  finish(render, 'render cart', 'frontend', 20);
  const fClient = start(frontend.tracer, 'POST /api/checkout', SpanKind.CLIENT, 2, root);
  const cServer = start(checkout.tracer, 'POST /api/checkout', SpanKind.SERVER, 4, fClient);
  const cClient = start(checkout.tracer, 'GET /inventory/reserve', SpanKind.CLIENT, 6, cServer);
  const validate = start(checkout.tracer, 'validate cart', SpanKind.INTERNAL, 8, cServer);
  finish(validate, 'validate cart', 'checkout', 30);
  const reserve = start(inventory.tracer, 'reserve stock', SpanKind.SERVER, 7, cClient, {
    'stock.sku': 'A-1',
  });
  if (fail) reserve.setStatus({ code: SpanStatusCode.ERROR, message: 'out of stock' });
  finish(reserve, 'reserve stock', 'inventory', reserveEnd);
  finish(cClient, 'GET /inventory/reserve', 'checkout', reserveEnd + 2);
  finish(cServer, 'POST /api/checkout', 'checkout', reserveEnd + 4);
  finish(fClient, 'POST /api/checkout', 'frontend', reserveEnd + 6);
  finish(root, 'GET /checkout', 'frontend', reserveEnd + 8);
  return { traceId: root.spanContext().traceId, spanIds };
}
