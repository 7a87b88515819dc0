// One OTLP export request at a time, without the SDK's exporters (which retry and only log what
// the daemon answered): spans made with the SDK, serialized as its exporters serialize them, sent
// over OTLP/HTTP (protobuf or JSON) or OTLP/gRPC (a raw HTTP/2 stream), and the daemon's answer
// returned as it gave it. The backpressure tests use these to see every acknowledgement and every
// refusal (HTTP 503 + Retry-After with a google.rpc.Status, gRPC UNAVAILABLE).

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { Timeline } from './scenario.mjs';

export const TRANSPORTS = Object.freeze(['http/protobuf', 'http/json', 'grpc']);
export const GRPC_UNAVAILABLE = 14;
const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';
const ANSWER_TIMEOUT_MS = 5_000;

// google.rpc.Status (protobuf) -> { code, message }.
export function decodeRpcStatus(buf) {
  const out = { code: 0, message: '' };
  let i = 0;
  const varint = () => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const b = buf[i++];
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return v;
    }
  };
  while (i < buf.length) {
    const key = varint();
    if ((key & 7) === 0) {
      const v = varint();
      if (key >> 3 === 1) out.code = v;
    } else if ((key & 7) === 2) {
      const len = varint();
      if (key >> 3 === 2) out.message = buf.subarray(i, i + len).toString('utf8');
      i += len;
    } else {
      break;
    }
  }
  return out;
}

// POST /v1/traces; resolves to { acked, status (HTTP), rpcCode, message, retryAfter }.
async function postHttp(endpoints, spans, json) {
  const r = await fetch(`http://${endpoints.http}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf' },
    body: (json ? JsonTraceSerializer : ProtobufTraceSerializer).serializeRequest(spans),
    signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS),
  });
  const body = Buffer.from(await r.arrayBuffer());
  let status = {};
  if (r.status !== 200) status = json ? JSON.parse(body.toString('utf8')) : decodeRpcStatus(body);
  return {
    acked: r.status === 200,
    status: r.status,
    rpcCode: status.code,
    message: status.message ?? '',
    retryAfter: r.headers.get('retry-after'),
  };
}

// One gRPC message frame: compressed flag, 4-byte big-endian length, payload.
export function grpcFrame(payload, compressed = false) {
  const header = Buffer.alloc(5);
  header.writeUInt8(compressed ? 1 : 0, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

// One unary TraceService/Export call of `body` (framed messages) to `target` ("host:port"), with
// `grpc-encoding: encoding` when given; resolves to { status (grpc-status), message } from the
// trailers (or trailers-only headers), rejects without an answer within ANSWER_TIMEOUT_MS.
export function grpcExportRaw(target, body, encoding) {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://${target}`);
    const timer = setTimeout(() => {
      client.destroy();
      reject(new Error(`no gRPC answer within ${ANSWER_TIMEOUT_MS} ms`));
    }, ANSWER_TIMEOUT_MS);
    client.on('error', reject);
    const headers = {
      ':method': 'POST',
      ':path': EXPORT_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
    };
    if (encoding) headers['grpc-encoding'] = encoding;
    const stream = client.request(headers);
    let result = null;
    const take = (h) => {
      if (h['grpc-status'] !== undefined) {
        result = {
          status: Number(h['grpc-status']),
          message: decodeURIComponent(h['grpc-message'] ?? ''),
        };
      }
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', () => {});
    stream.on('end', () => {
      clearTimeout(timer);
      client.close();
      result ? resolve(result) : reject(new Error('no grpc-status'));
    });
    stream.on('error', reject);
    stream.end(body);
  });
}

// One unary TraceService/Export call; resolves to { acked, status (grpc-status), message }.
async function exportGrpc(endpoints, spans) {
  const payload = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans));
  const { status, message } = await grpcExportRaw(endpoints.grpc, grpcFrame(payload));
  return { acked: status === 0, status, message };
}

// Sends `spans` (ReadableSpans) in one request over `transport` (one of TRANSPORTS) to a daemon's
// endpoints ({ grpc, http } as "host:port"); resolves to what the daemon answered.
export function exportOnce(endpoints, transport, spans) {
  switch (transport) {
    case 'grpc':
      return exportGrpc(endpoints, spans);
    case 'http/protobuf':
      return postHttp(endpoints, spans, false);
    case 'http/json':
      return postHttp(endpoints, spans, true);
    default:
      throw new Error(`unknown transport "${transport}" (want one of ${TRANSPORTS.join(', ')})`);
  }
}

// Asserts that `answer` (exportOnce's, with its `transport`) is a refusal to retry later: gRPC
// UNAVAILABLE, or HTTP 503 with Retry-After: 1 and an UNAVAILABLE google.rpc.Status, its message
// matching `reason`.
export function assertBackpressure(answer, reason, what) {
  if (answer.transport === 'grpc') {
    assert.equal(answer.status, GRPC_UNAVAILABLE, what);
  } else {
    assert.equal(answer.status, 503, what);
    assert.equal(answer.rpcCode, GRPC_UNAVAILABLE, what);
    assert.equal(answer.retryAfter, '1', what);
  }
  assert.match(answer.message, reason, what);
}

// A new three-span trace (SERVER -> CLIENT -> INTERNAL with an event) made with `tracer`, whose
// provider exports to the InMemorySpanExporter `memory`; returns its ReadableSpans.
export function makeOrderTrace(tracer, memory, phase) {
  const t = new Timeline();
  const ms = 1_000_000;
  const under = (span) => trace.setSpan(ROOT_CONTEXT, span);
  const root = tracer.startSpan(
    'POST /order',
    { kind: SpanKind.SERVER, startTime: t.at(0), attributes: { 'e2e.phase': phase } },
    ROOT_CONTEXT,
  );
  const call = tracer.startSpan(
    'call payments',
    { kind: SpanKind.CLIENT, startTime: t.at(1 * ms) },
    under(root),
  );
  const work = tracer.startSpan(
    'charge',
    { kind: SpanKind.INTERNAL, startTime: t.at(2 * ms), attributes: { 'order.total': 12.5 } },
    under(call),
  );
  work.addEvent('charged', { 'charge.id': 'c-1' }, t.at(3 * ms));
  work.setStatus({ code: SpanStatusCode.OK });
  work.end(t.at(4 * ms));
  call.end(t.at(5 * ms));
  root.end(t.at(6 * ms));
  const traceId = root.spanContext().traceId;
  return memory.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
}
