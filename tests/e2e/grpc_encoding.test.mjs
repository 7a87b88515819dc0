// gRPC message encodings on the wire, with a raw HTTP/2 client (node:http2): what tailtraced's
// OTLP/gRPC receiver answers for each grpc-encoding and compressed flag. The OpenTelemetry JS
// exporter's own gzip export is covered by ingest.test.mjs.

import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { startDaemon } from './lib/daemon.mjs';

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

// One gRPC message frame: compressed flag, 4-byte big-endian length, payload.
function frame(payload, compressed) {
  const header = Buffer.alloc(5);
  header.writeUInt8(compressed ? 1 : 0, 0);
  header.writeUInt32BE(payload.length, 1);
  return Buffer.concat([header, payload]);
}

// POSTs one message and resolves to { status, message } from the trailers (or trailers-only
// headers).
function exportRaw(target, body, encoding) {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`http://${target}`);
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
      client.close();
      result ? resolve(result) : reject(new Error('no grpc-status'));
    });
    stream.on('error', reject);
    stream.end(body);
  });
}

// An ExportTraceServiceRequest with no spans: field 1 (resource_spans) holding an empty message.
const EMPTY_REQUEST = Buffer.from([0x0a, 0x00]);

describe('OTLP/gRPC message encodings', () => {
  let daemon;
  before(async () => {
    daemon = await startDaemon();
  });
  after(async () => {
    await daemon?.cleanup();
  });

  test('identity and gzip messages are accepted', async () => {
    const target = daemon.endpoints.grpc;
    assert.equal((await exportRaw(target, frame(EMPTY_REQUEST, false))).status, 0);
    assert.equal((await exportRaw(target, frame(EMPTY_REQUEST, false), 'gzip')).status, 0);
    assert.equal((await exportRaw(target, frame(gzipSync(EMPTY_REQUEST), true), 'gzip')).status, 0);
  });

  test('deflate is UNIMPLEMENTED naming it', async () => {
    const r = await exportRaw(daemon.endpoints.grpc, frame(EMPTY_REQUEST, true), 'deflate');
    assert.equal(r.status, 12, JSON.stringify(r));
    assert.match(r.message, /deflate/);
  });

  for (const encoding of ['snappy', 'zstd', 'br']) {
    test(`a message compressed with ${encoding} is UNIMPLEMENTED`, async () => {
      const r = await exportRaw(daemon.endpoints.grpc, frame(EMPTY_REQUEST, true), encoding);
      assert.equal(r.status, 12, JSON.stringify(r));
      assert.match(r.message, /identity, gzip/);
    });
  }

  test('a compressed message without grpc-encoding is UNIMPLEMENTED', async () => {
    const r = await exportRaw(daemon.endpoints.grpc, frame(EMPTY_REQUEST, true));
    assert.equal(r.status, 12, JSON.stringify(r));
  });

  test('a gzip message that is not gzip is INVALID_ARGUMENT', async () => {
    const r = await exportRaw(daemon.endpoints.grpc, frame(EMPTY_REQUEST, true), 'gzip');
    assert.equal(r.status, 3, JSON.stringify(r));
    assert.match(r.message, /gzip/);
  });
});
