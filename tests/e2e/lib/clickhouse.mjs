// A private ClickHouse server for an end-to-end test file: the same shape as the C++ tests'
// harness (tests/storage/clickhouse_server.cc), with the same config (tests/clickhouse/).
// startClickHouse() writes config.xml and users.xml into a fresh temp dir, picks two free
// loopback ports (HTTP and native TCP), spawns `clickhouse-server --config-file=DIR/config.xml`
// and resolves once GET /ping answers "Ok.\n" (polled every 50 ms, bounded: no fixed sleep).
// stop() / kill() end the server, start() brings it back on the same ports and data dir
// (restart() does both), pause() / resume() freeze and thaw it (SIGSTOP / SIGCONT); query() /
// rows() run SQL over its HTTP interface; cleanup() kills it and removes the dir. The server also
// dies with the test process: `setpriv --pdeathsig KILL` when util-linux has it, and a process
// 'exit' hook; temp dirs of test processes that died anyway are removed by the next
// startClickHouse(). lib/clickhouse_cluster.mjs builds a cluster of these servers (and a
// ZooKeeper) from the pieces exported here.
//
// TAILTRACE_CLICKHOUSE_SERVER overrides the binary (default /usr/sbin/clickhouse-server, which
// `make deps` installs from Debian's clickhouse-server package).

import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const DEFAULT_CLICKHOUSE_SERVER = '/usr/sbin/clickhouse-server';
// Default: how long a starting server may take to answer /ping.
export const CLICKHOUSE_READY_TIMEOUT_MS = 30_000;
// Default: how long a server may take to exit after SIGTERM (then it is SIGKILLed).
export const CLICKHOUSE_STOP_TIMEOUT_MS = 15_000;
const PING_INTERVAL_MS = 50;
// Tries with new ports when a server does not start (another process may take a port between
// our probe and the server's bind).
const START_TRIES = 3;
// The temp dir's name: this, the test process's pid, "-" and a random suffix.
const DIR_PREFIX = 'tailtrace-e2e-clickhouse-';
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

// A user with a password, besides `default` (no password), for tests of storage.clickhouse
// username/password: as tests/clickhouse/users.xml has it.
export const CLICKHOUSE_USER = 'tailtrace';
export const CLICKHOUSE_PASSWORD = 'secret';

// The servers' config files, which the C++ tests and the bench fill in too (its README.md).
const TEMPLATES = fileURLToPath(new URL('../../clickhouse/', import.meta.url));

// tests/clickhouse/<name> with each @KEY@ of `values` replaced by its value. Throws naming the
// file when it is missing, or when a placeholder of it has no value.
export function fillTemplate(name, values = {}) {
  const file = path.join(TEMPLATES, name);
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `the ClickHouse config template ${file} cannot be read (${err.code ?? err.message}): ` +
        'tests/clickhouse/README.md says what it holds',
    );
  }
  for (const [key, value] of Object.entries(values)) text = text.replaceAll(`@${key}@`, value);
  const left = /@[A-Z0-9_]+@/.exec(text);
  if (left) {
    throw new Error(`the ClickHouse config template ${file} has ${left[0]}, which is not filled`);
  }
  return text;
}

// The server binary ($TAILTRACE_CLICKHOUSE_SERVER or the default), or throws saying how to get it.
export function clickhouseBinary() {
  const env = process.env.TAILTRACE_CLICKHOUSE_SERVER;
  const bin = env ? env : DEFAULT_CLICKHOUSE_SERVER;
  try {
    accessSync(bin, constants.X_OK);
  } catch (err) {
    throw new Error(
      `clickhouse-server is not installed at ${bin} (${err.code ?? err.message}): run ` +
        '`make deps` to install it, or set TAILTRACE_CLICKHOUSE_SERVER to its path',
    );
  }
  return bin;
}

// A port free on 127.0.0.1 now (the kernel's pick), other than those in `taken`.
export async function freePort(taken = []) {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
        const p = server.address().port;
        server.close(() => resolve(p));
      });
    });
    if (!taken.includes(port)) return port;
  }
  throw new Error('the kernel keeps giving the same free port');
}

// One plain HTTP request to 127.0.0.1:port, without keep-alive (a stopping server would wait for
// a kept-alive connection). Resolves to { status, body }; rejects on a network error or after
// timeoutMs.
function request(port, { method = 'GET', path: p = '/', body, headers = {}, timeoutMs = 2_000 }) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: p,
        agent: false,
        headers: { connection: 'close', ...headers },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

// Removes the temp dirs (named prefix + pid + "-...") of test processes that died without cleaning
// up (SIGKILL, a crash).
export async function removeDirectoriesOfDeadProcesses(tmp, prefix = DIR_PREFIX) {
  let names;
  try {
    names = await readdir(tmp);
  } catch {
    return;
  }
  for (const name of names) {
    const m = name.startsWith(prefix) && /^(\d+)-/.exec(name.slice(prefix.length));
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (err) {
      alive = err.code !== 'ESRCH';
    }
    if (!alive) await rm(path.join(tmp, name), { recursive: true, force: true });
  }
}

export function fileTail(file, maxChars) {
  try {
    const s = readFileSync(file, 'utf8');
    return s.length > maxChars ? `...${s.slice(-maxChars)}` : s;
  } catch {
    return '';
  }
}

// Spawns `cmd args` in `cwd`, its stdout and stderr appended to `logFile`, so that it dies with this
// process: `setpriv --pdeathsig KILL` (even if this process is SIGKILLed) and a process 'exit'
// hook. Returns { child, exited }: exited resolves to { code, signal } (or { error } if it could
// not be spawned) once it ended.
export function spawnTied(cmd, args, { cwd, logFile }) {
  const out = openSync(logFile, 'a');
  const [file, argv] = SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', cmd, ...args]] : [cmd, args];
  const child = spawn(file, argv, { cwd, stdio: ['ignore', out, out] });
  closeSync(out);
  let ended = false;
  const killOnExit = () => {
    if (!ended) child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);
  const exited = new Promise((resolve) => {
    const end = (exit) => {
      if (ended) return;
      ended = true;
      process.off('exit', killOnExit);
      resolve(exit);
    };
    child.on('exit', (code, signal) => end({ code, signal }));
    child.on('error', (error) => end({ code: null, signal: null, error }));
  });
  return { child, exited };
}

// Writes config.xml (on the server's ports, logging at `logLevel`) and users.xml into the server's
// dir, and config.d/NAME.xml for each NAME: xml of `overrides` (a cluster server's cluster.xml),
// which the server merges into config.xml.
export async function writeServerConfig(server, { logLevel = 'warning', overrides = {} } = {}) {
  const config = fillTemplate('config.xml', {
    DIR: server.dir,
    HTTP_PORT: server.httpPort,
    TCP_PORT: server.tcpPort,
    LOG_LEVEL: logLevel,
  });
  await mkdir(path.join(server.dir, 'config.d'), { recursive: true });
  await writeFile(path.join(server.dir, 'config.xml'), config);
  await writeFile(path.join(server.dir, 'users.xml'), fillTemplate('users.xml'));
  for (const [name, xml] of Object.entries(overrides)) {
    await writeFile(path.join(server.dir, 'config.d', `${name}.xml`), xml);
  }
}

// Starts a private server and resolves once it answers /ping. Rejects naming the binary, its exit
// and the tail of its logs if it ends first or does not answer within readyTimeoutMs (after
// START_TRIES tries with fresh ports); nothing is left behind then.
export async function startClickHouse({ readyTimeoutMs = CLICKHOUSE_READY_TIMEOUT_MS } = {}) {
  const bin = clickhouseBinary();
  const tmp = tmpdir();
  await removeDirectoriesOfDeadProcesses(tmp);
  const dir = await mkdtemp(path.join(tmp, `${DIR_PREFIX}${process.pid}-`));
  const server = new ClickHouseServer(bin, dir, readyTimeoutMs);
  let lastError;
  for (let attempt = 0; attempt < START_TRIES; attempt++) {
    server.httpPort = await freePort();
    server.tcpPort = await freePort([server.httpPort]);
    await writeServerConfig(server);
    try {
      await server.start();
      return server;
    } catch (err) {
      lastError = err;
      await server.kill();
    }
  }
  await server.cleanup();
  throw lastError;
}

// How a child process ended ({ code, signal, error } of spawnTied), or 'is running' for null.
export function describeExit(exit) {
  if (!exit) return 'is running';
  if (exit.error) return `failed to start: ${exit.error.message}`;
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

export class ClickHouseServer {
  constructor(bin, dir, readyTimeoutMs) {
    this.bin = bin;
    this.dir = dir;
    this.readyTimeoutMs = readyTimeoutMs;
    this.httpPort = 0;
    this.tcpPort = 0;
    this.child = null;
    this.exit = null; // { code, signal } of the last process once it exited
    this.starts = 0;
  }

  // The HTTP interface, as storage.clickhouse.endpoint takes it.
  get endpoint() {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get running() {
    return this.child !== null && this.exit === null;
  }

  // The end of its error log and its stdout/stderr, for failure messages.
  logTail(maxChars = 2000) {
    const text =
      fileTail(path.join(this.dir, 'err.log'), maxChars) +
      fileTail(path.join(this.dir, 'stdout.log'), 1000);
    return text.trimEnd() || '(empty)';
  }

  describeExit() {
    return describeExit(this.exit);
  }

  // Starts the server (again: same ports, config and data) and resolves once it answers /ping.
  async start() {
    if (this.running) return;
    await mkdir(this.dir, { recursive: true });
    this.starts += 1;
    this.exit = null;
    const { child, exited } = spawnTied(
      this.bin,
      [`--config-file=${path.join(this.dir, 'config.xml')}`],
      { cwd: this.dir, logFile: path.join(this.dir, 'stdout.log') },
    );
    this.child = child;
    this.exited = exited.then((exit) => {
      this.exit = exit;
      return exit;
    });
    await this.awaitPing();
  }

  async awaitPing() {
    const deadline = Date.now() + this.readyTimeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (this.exit) {
        throw new Error(
          `${this.bin} ${this.describeExit()} before answering /ping on port ${this.httpPort}; ` +
            `its output ends with:\n${this.logTail()}`,
        );
      }
      try {
        const r = await request(this.httpPort, { path: '/ping', timeoutMs: 1_000 });
        if (r.status === 200 && r.body === 'Ok.\n') return;
        last = `HTTP ${r.status}: ${r.body.slice(0, 200)}`;
      } catch (err) {
        last = err.message;
      }
      if (Date.now() >= deadline) {
        await this.kill();
        throw new Error(
          `${this.bin} did not answer /ping on port ${this.httpPort} within ` +
            `${this.readyTimeoutMs} ms (last: ${last}); its output ends with:\n${this.logTail()}`,
        );
      }
      await delay(PING_INTERVAL_MS);
    }
  }

  // SIGTERM, then SIGKILL if it has not exited within timeoutMs. Resolves to { code, signal }.
  async stop(timeoutMs = CLICKHOUSE_STOP_TIMEOUT_MS) {
    if (!this.running) return this.exit;
    this.child.kill('SIGTERM');
    const result = await Promise.race([this.exited, delay(timeoutMs, 'timeout', { ref: false })]);
    if (result === 'timeout') return this.kill();
    return result;
  }

  // Sends `signal` (default SIGKILL) if running; resolves to { code, signal } once it exited.
  async kill(signal = 'SIGKILL') {
    if (!this.child) return null;
    if (!this.exit) this.child.kill(signal);
    return this.exited;
  }

  // SIGSTOP: the server stays up but answers nothing (the kernel still accepts connections and
  // buffers requests, which it runs after resume()), as a hung or overloaded server.
  pause() {
    if (this.running) this.child.kill('SIGSTOP');
  }

  // SIGCONT after pause().
  resume() {
    if (this.running) this.child.kill('SIGCONT');
  }

  // stop() then start() on the same ports and data dir.
  async restart() {
    await this.stop();
    await this.start();
  }

  // Runs one statement over the HTTP interface as `default`; resolves to the answer's text.
  // Throws with ClickHouse's message unless it answers 200.
  async query(sql, { timeoutMs = 10_000 } = {}) {
    const r = await request(this.httpPort, { method: 'POST', path: '/', body: sql, timeoutMs });
    if (r.status !== 200) throw new Error(`ClickHouse: ${sql}: HTTP ${r.status}: ${r.body}`);
    return r.body;
  }

  // query() with FORMAT JSONEachRow appended; resolves to the rows as objects.
  async rows(sql, options) {
    const text = await this.query(`${sql} FORMAT JSONEachRow`, options);
    return text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line));
  }

  // Kills the server (its data goes too: no need for a graceful stop) and removes the dir.
  async cleanup() {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

// The `storage:` lines of a daemon on `ch`, in `database`. A short flush_interval keeps writes
// (and so the tests) quick; `timeout` bounds a request to the server. `cluster` and
// `insertQuorum`, when given, become storage.clickhouse.cluster and .insert_quorum.
export function clickhouseStorageYaml(
  ch,
  database,
  { auth = false, timeout = '5s', tablePrefix = '', cluster = '', insertQuorum } = {},
) {
  return [
    '  backend: clickhouse',
    '  clickhouse:',
    `    endpoint: ${ch.endpoint}`,
    `    database: ${database}`,
    ...(auth ? [`    username: ${CLICKHOUSE_USER}`, `    password: "${CLICKHOUSE_PASSWORD}"`] : []),
    ...(tablePrefix ? [`    table_prefix: ${tablePrefix}`] : []),
    ...(cluster ? [`    cluster: ${cluster}`] : []),
    ...(insertQuorum !== undefined ? [`    insert_quorum: ${insertQuorum}`] : []),
    '    flush_interval: 100ms',
    `    timeout: ${timeout}`,
  ].join('\n');
}

export const hex = (id) => `unhex('${id}')`;

// Per trace ID: rows of `database`.`prefix`span_index, distinct span IDs, distinct writes.
export async function rowsPerTrace(ch, database, traceIds, prefix = '') {
  const rows = await ch.rows(
    `SELECT lower(hex(trace_id)) AS trace, count() AS rows, uniqExact(span_id) AS spans, ` +
      `uniqExact(write_id) AS writes FROM ${database}.${prefix}span_index ` +
      `WHERE trace_id IN (${traceIds.map(hex).join(', ')}) GROUP BY trace_id`,
  );
  return new Map(rows.map((r) => [r.trace, { rows: +r.rows, spans: +r.spans, writes: +r.writes }]));
}
