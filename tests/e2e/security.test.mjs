// End-to-end TLS and bearer-token test: the OpenTelemetry JS SDK's OTLP/gRPC and OTLP/HTTP
// exporters send over TLS with a bearer token (certificates made by the openssl CLI at test
// time), and the traces are read back through the query API over TLS with the token. Without
// the token the same exporters are refused.
//
//   TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/security.test.mjs

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import * as grpc from '@grpc/grpc-js';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

import { checkJaegerTrace } from './lib/checks.mjs';
import { POLL_TIMEOUT_MS, startDaemon } from './lib/daemon.mjs';
import { toExpectedSpan } from './lib/sdk.mjs';

const TOKEN = 'e2e-token-7f3a';

// A CA and a server certificate for localhost / 127.0.0.1 in `dir`.
function makeCertificates(dir) {
  const f = (name) => path.join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: 'ignore' });
  writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out',
    f('ca.pem'), '-days', '2', '-subj', '/CN=e2e-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('server.key'), '-out',
    f('server.csr'), '-subj', '/CN=localhost');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-out', f('server.pem'), '-days', '2', '-extfile', f('ext.cnf'));
  writeFileSync(f('tokens'), `# e2e\n${TOKEN}\n`);
  return { ca: f('ca.pem'), cert: f('server.pem'), key: f('server.key'), tokens: f('tokens') };
}

function securedConfig(dir) {
  const files = makeCertificates(dir);
  const tls = `tls: {cert_file: ${JSON.stringify(files.cert)}, key_file: ${JSON.stringify(files.key)}}`;
  const auth = `auth: {bearer_token_file: ${JSON.stringify(files.tokens)}}`;
  return [
    'receivers:',
    '  otlp:',
    '    protocols:',
    `      grpc: {endpoint: 127.0.0.1:0, ${tls}, ${auth}}`,
    `      http: {endpoint: 127.0.0.1:0, ${tls}, ${auth}}`,
    'sampling: {decision_wait: 1s, decision_wait_after_root_received: 200ms}',
    `storage: {path: ${JSON.stringify(path.join(dir, 'data'))}}`,
    `query: {endpoint: 127.0.0.1:0, ${tls}, ${auth}}`,
    `admin: {endpoint: 127.0.0.1:0, ${tls}, ${auth}}`,
    '',
  ].join('\n');
}

// GET over TLS trusting only `ca`; resolves { status, body }.
function httpsGet(url, ca, token) {
  return new Promise((resolve, reject) => {
    const headers = token ? { Authorization: `Bearer ${token}` } : {};
    const req = https.get(url, { ca, headers, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => {
        body += c;
      });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

// Ends a three-span trace on a fresh provider; returns the finished spans.
function makeTrace(serviceName) {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
  });
  const tracer = provider.getTracer('e2e.security');
  // No context manager is registered: the parent is passed explicitly.
  const root = tracer.startSpan('root');
  const parent = trace.setSpan(ROOT_CONTEXT, root);
  tracer.startSpan('child-1', {}, parent).end();
  tracer.startSpan('child-2', {}, parent).end();
  root.end();
  return memory.getFinishedSpans();
}

function exportSpans(exporter, spans) {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

function grpcExporter(daemon, ca, token) {
  const metadata = new grpc.Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  return new GrpcTraceExporter({
    url: `https://${daemon.endpoints.grpc}`,
    credentials: grpc.credentials.createSsl(ca),
    metadata,
    timeoutMillis: 5_000,
  });
}

function httpExporter(daemon, ca, token) {
  return new ProtoTraceExporter({
    url: `https://${daemon.endpoints.http}/v1/traces`,
    headers: token ? { Authorization: `Bearer ${token}` } : {},
    httpAgentOptions: { ca },
    timeoutMillis: 5_000,
  });
}

describe('tailtraced over TLS with bearer tokens', () => {
  let daemon;
  let ca;

  before(async () => {
    daemon = await startDaemon({ configYaml: securedConfig });
    ca = readFileSync(path.join(daemon.dir, 'ca.pem'));
  });

  after(async () => {
    await daemon?.cleanup();
  });

  for (const [name, make] of [
    ['OTLP/gRPC', grpcExporter],
    ['OTLP/HTTP protobuf', httpExporter],
  ]) {
    test(`${name} exporter with TLS and a token; read back over TLS with the token`, async () => {
      const refused = make(daemon, ca, '');
      const refusedResult = await exportSpans(refused, makeTrace('refused'));
      assert.equal(refusedResult.code, ExportResultCode.FAILED, `${name}: exported without a token`);
      await refused.shutdown();

      const spans = makeTrace(`tls-${name}`);
      const exporter = make(daemon, ca, TOKEN);
      const result = await exportSpans(exporter, spans);
      assert.equal(result.code, ExportResultCode.SUCCESS, `${name}: ${result.error?.message}`);
      await exporter.shutdown();

      const traceId = spans[0].spanContext().traceId;
      assert.ok(spans.every((s) => s.spanContext().traceId === traceId));
      const url = `https://${daemon.endpoints.query}/api/traces/${traceId}`;
      assert.equal((await httpsGet(url, ca, '')).status, 401);
      const deadline = Date.now() + POLL_TIMEOUT_MS;
      let got;
      do {
        got = await httpsGet(url, ca, TOKEN);
        if (got.status === 200) break;
        await delay(100);
      } while (Date.now() < deadline);
      assert.equal(got.status, 200, `trace ${traceId} never readable: ${got.body}`);
      checkJaegerTrace(JSON.parse(got.body), traceId, spans.map(toExpectedSpan));
    });
  }

  test('admin: /healthz open, /metrics needs the token', async () => {
    const base = `https://${daemon.endpoints.admin}`;
    assert.equal((await httpsGet(`${base}/healthz`, ca, '')).status, 200);
    assert.equal((await httpsGet(`${base}/metrics`, ca, '')).status, 401);
    assert.equal((await httpsGet(`${base}/metrics`, ca, TOKEN)).status, 200);
  });
});
