// gRPC message encodings on the wire, with a raw HTTP/2 client (node:http2): what tailtraced's
// OTLP/gRPC receiver answers for each grpc-encoding and compressed flag. The OpenTelemetry JS
// exporter's own gzip export is covered by ingest.test.mjs.

import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';

import { startDaemon } from './lib/daemon.mjs';
import { grpcExportRaw, grpcFrame } from './lib/otlp_requests.mjs';


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
    assert.equal((await grpcExportRaw(target, grpcFrame(EMPTY_REQUEST, false))).status, 0);
    assert.equal((await grpcExportRaw(target, grpcFrame(EMPTY_REQUEST, false), 'gzip')).status, 0);
    const gzipped = grpcFrame(gzipSync(EMPTY_REQUEST), true);
    assert.equal((await grpcExportRaw(target, gzipped, 'gzip')).status, 0);
  });

  test('deflate is UNIMPLEMENTED naming it', async () => {
    const body = grpcFrame(EMPTY_REQUEST, true);
    const r = await grpcExportRaw(daemon.endpoints.grpc, body, 'deflate');
    assert.equal(r.status, 12, JSON.stringify(r));
    assert.match(r.message, /deflate/);
  });

  for (const encoding of ['snappy', 'zstd', 'br']) {
    test(`a message compressed with ${encoding} is UNIMPLEMENTED`, async () => {
      const body = grpcFrame(EMPTY_REQUEST, true);
      const r = await grpcExportRaw(daemon.endpoints.grpc, body, encoding);
      assert.equal(r.status, 12, JSON.stringify(r));
      assert.match(r.message, /identity, gzip/);
    });
  }

  test('a compressed message without grpc-encoding is UNIMPLEMENTED', async () => {
    const r = await grpcExportRaw(daemon.endpoints.grpc, grpcFrame(EMPTY_REQUEST, true));
    assert.equal(r.status, 12, JSON.stringify(r));
  });

  test('a gzip message that is not gzip is INVALID_ARGUMENT', async () => {
    const r = await grpcExportRaw(daemon.endpoints.grpc, grpcFrame(EMPTY_REQUEST, true), 'gzip');
    assert.equal(r.status, 3, JSON.stringify(r));
    assert.match(r.message, /gzip/);
  });
});
