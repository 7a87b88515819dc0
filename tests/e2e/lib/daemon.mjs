// Starting, stopping and querying a real `tailtraced` for the end-to-end tests.
//
// Every test file starts its own daemon with startDaemon(): a fresh temp dir holds the config and
// the storage, all listeners use port 0, and the ports are read from the one machine-readable line
// the daemon prints on stdout when it is ready:
//   tailtraced ready grpc=127.0.0.1:PORT http=127.0.0.1:PORT query=127.0.0.1:PORT admin=127.0.0.1:PORT
// Nothing here sleeps for a fixed time: waiting is either on a process event or on polling the
// daemon's own HTTP API with a deadline.
//
// Crash tests: daemon.kill('SIGKILL') ends the process without any shutdown work, and
// daemon.restart() starts a new process on the same temp dir (config, storage, write-ahead log),
// by default on the same ports, so clients keep their URLs.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

// Default: how long the daemon may take to print its ready line.
export const READY_TIMEOUT_MS = 15_000;
// Default: how long the daemon may take to exit after SIGTERM.
export const STOP_TIMEOUT_MS = 15_000;
// Default: how long to poll the query API for a trace (the sampler holds a trace for
// decision_wait / decision_wait_after_root_received before it becomes readable).
export const POLL_TIMEOUT_MS = 10_000;
// Default: pause between two polls of the query API.
export const POLL_INTERVAL_MS = 100;

const READY_RE =
  /^tailtraced ready grpc=(\S+:\d+) http=(\S+:\d+) query=(\S+:\d+) admin=(\S+:\d+)\s*$/;

// Returns the absolute path of the daemon binary from $TAILTRACED, or throws naming the problem.
export function daemonBinary() {
  const bin = process.env.TAILTRACED;
  if (!bin) {
    throw new Error(
      'TAILTRACED is not set: run `TAILTRACED=/abs/path/to/build/daemon/tailtraced node --test tests/e2e/`',
    );
  }
  if (!path.isAbsolute(bin)) throw new Error(`TAILTRACED must be an absolute path, got "${bin}"`);
  if (!existsSync(bin)) throw new Error(`TAILTRACED=${bin} does not exist (build the daemon first)`);
  return bin;
}

// Default: every listener on a port the kernel picks.
const ANY_PORT_ENDPOINTS = Object.freeze({
  grpc: '127.0.0.1:0',
  http: '127.0.0.1:0',
  query: '127.0.0.1:0',
  admin: '127.0.0.1:0',
});

// The YAML config for one test daemon. `sampling` keys override the short test defaults;
// `samplingYaml` is extra text appended inside the `sampling:` section (e.g. a policies list,
// indented by two spaces); `storageYaml` likewise inside `storage:` (e.g. "  enabled: false");
// `extraYaml` is appended at the top level (e.g. a `wal:` or `exporters:` section);
// `endpoints` ({ grpc, http, query, admin } as "host:port") replaces the port-0 listeners
// (restart() uses it to come back on the same ports).
export function daemonConfigYaml(
  dir,
  {
    decisionWait = '1s',
    decisionWaitAfterRoot = '200ms',
    samplingYaml = '',
    storageYaml = '',
    extraYaml = '',
    endpoints = ANY_PORT_ENDPOINTS,
  } = {},
) {
  return [
    'receivers:',
    '  otlp:',
    '    protocols:',
    `      grpc: { endpoint: ${endpoints.grpc} }`,
    `      http: { endpoint: ${endpoints.http} }`,
    'sampling:',
    `  decision_wait: ${decisionWait}`,
    `  decision_wait_after_root_received: ${decisionWaitAfterRoot}`,
    ...(samplingYaml ? [samplingYaml.replace(/\n+$/, '')] : []),
    'storage:',
    `  path: ${JSON.stringify(path.join(dir, 'data'))}`,
    ...(storageYaml ? [storageYaml.replace(/\n+$/, '')] : []),
    'query:',
    `  endpoint: ${endpoints.query}`,
    'admin:',
    `  endpoint: ${endpoints.admin}`,
    ...(extraYaml ? [extraYaml.replace(/\n+$/, '')] : []),
    '',
  ].join('\n');
}

// Starts a daemon in a fresh temp dir and resolves once it printed its ready line.
// Resolves to a Daemon; rejects (after cleaning up) with the daemon's stderr if it exits first
// or does not become ready within READY_TIMEOUT_MS.
export async function startDaemon(options = {}) {
  const bin = daemonBinary();
  const dir = await mkdtemp(path.join(tmpdir(), 'tailtrace-e2e-'));
  const configPath = path.join(dir, 'config.yaml');
  // `options.configYaml(dir)`, when given, writes the whole config itself (e.g. with TLS files).
  const yaml = options.configYaml ? await options.configYaml(dir) : daemonConfigYaml(dir, options);
  await writeFile(configPath, yaml);
  const daemon = new Daemon(bin, dir, configPath, options);
  try {
    await daemon.waitReady(options.readyTimeoutMs ?? READY_TIMEOUT_MS);
  } catch (err) {
    await daemon.kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return daemon;
}

export class Daemon {
  constructor(bin, dir, configPath, options = {}) {
    this.bin = bin;
    this.dir = dir;
    this.configPath = configPath;
    this.options = options; // what startDaemon() was given; restart() writes its config from it
    this.starts = 0; // processes started on this dir so far
    this.stdout = '';
    this.stderr = '';
    this.endpoints = null; // { grpc, http, query, admin } as "host:port"
    this.spawn();
  }

  // Starts one process on the config file. The output of earlier processes stays in
  // stdout/stderr, after a "--- restart N ---" line, for failure messages.
  spawn() {
    this.starts += 1;
    if (this.starts > 1) {
      const mark = `--- restart ${this.starts - 1} ---\n`;
      this.stdout += mark;
      this.stderr += mark;
    }
    this.exit = null; // { code, signal } once exited
    this.child = spawn(this.bin, ['--config', this.configPath], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout.setEncoding('utf8');
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (chunk) => {
      this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
      this.child.on('error', (err) => {
        this.exit = { code: null, signal: null, error: err };
        resolve(this.exit);
      });
    });
  }

  // Last lines of stderr, for failure messages.
  stderrTail(maxChars = 4000) {
    const s = this.stderr.trimEnd();
    return s.length > maxChars ? `...${s.slice(-maxChars)}` : s || '(empty)';
  }

  describeExit() {
    if (!this.exit) return 'still running';
    if (this.exit.error) return `failed to start: ${this.exit.error.message}`;
    return this.exit.signal ? `killed by ${this.exit.signal}` : `exited with code ${this.exit.code}`;
  }

  waitReady(timeoutMs) {
    return new Promise((resolve, reject) => {
      let buffered = '';
      let done = false;
      const finish = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.child.stdout.off('data', onData);
        // Keep draining stdout so the daemon never blocks on a full pipe.
        this.child.stdout.on('data', (chunk) => {
          this.stdout += chunk;
        });
        if (err) reject(err);
        else resolve(this.endpoints);
      };
      const onData = (chunk) => {
        this.stdout += chunk;
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          const m = READY_RE.exec(line);
          if (m) {
            this.endpoints = { grpc: m[1], http: m[2], query: m[3], admin: m[4] };
            finish(null);
            return;
          }
          if (line.startsWith('tailtraced ready')) {
            finish(new Error(`unparseable ready line on stdout: "${line}"`));
            return;
          }
        }
      };
      const timer = setTimeout(() => {
        finish(
          new Error(
            `tailtraced did not print "tailtraced ready ..." within ${timeoutMs} ms\n` +
              `stdout: ${this.stdout.trimEnd() || '(empty)'}\nstderr: ${this.stderrTail()}`,
          ),
        );
      }, timeoutMs);
      this.child.stdout.on('data', onData);
      this.exited.then(() => {
        finish(
          new Error(
            `tailtraced ${this.describeExit()} before it was ready ` +
              `(${this.bin} --config ${this.configPath})\n` +
              `stdout: ${this.stdout.trimEnd() || '(empty)'}\nstderr: ${this.stderrTail()}`,
          ),
        );
      });
    });
  }

  // Sends SIGTERM and resolves to { code, signal } once the daemon exited. Throws if it does not
  // exit within timeoutMs (the daemon is then SIGKILLed so the test run can end).
  async stop(timeoutMs = STOP_TIMEOUT_MS) {
    if (!this.exit) this.child.kill('SIGTERM');
    const timeout = delay(timeoutMs, 'timeout', { ref: false });
    const result = await Promise.race([this.exited, timeout]);
    if (result === 'timeout') {
      await this.kill();
      throw new Error(
        `tailtraced did not exit within ${timeoutMs} ms of SIGTERM\nstderr: ${this.stderrTail()}`,
      );
    }
    return result;
  }

  // Sends `signal` (default SIGKILL: no shutdown work at all, as in a crash or an OOM kill) if the
  // daemon is still running and resolves to { code, signal } once it exited. Also the cleanup
  // after a failure.
  async kill(signal = 'SIGKILL') {
    if (!this.exit) this.child.kill(signal);
    return this.exited;
  }

  // Starts the daemon again on the same temp dir (storage, write-ahead log) after it exited, and
  // resolves once it printed its ready line (start-up work such as replaying a log happens
  // before that line). With `samePorts` (the default) the config is rewritten to listen on the
  // ports of the previous run, so clients keep their URLs; a config from `options.configYaml` is
  // used as it was written (port 0: the ports are read again from the ready line). Rejects, like
  // startDaemon(), if the process exits first or is not ready in time; the temp dir is kept
  // (cleanup() removes it).
  async restart({ samePorts = true, readyTimeoutMs = this.options.readyTimeoutMs } = {}) {
    if (!this.exit) {
      throw new Error('restart(): tailtraced is still running; stop() or kill() it first');
    }
    if (samePorts && this.endpoints && !this.options.configYaml) {
      await writeFile(
        this.configPath,
        daemonConfigYaml(this.dir, { ...this.options, endpoints: this.endpoints }),
      );
    }
    this.endpoints = null;
    this.spawn();
    try {
      await this.waitReady(readyTimeoutMs ?? READY_TIMEOUT_MS);
    } catch (err) {
      await this.kill();
      throw err;
    }
    return this.endpoints;
  }

  // Stops the daemon if needed and removes its temp dir.
  async cleanup() {
    if (!this.exit) {
      try {
        await this.stop();
      } catch {
        // stop() already SIGKILLed it.
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  queryUrl(p) {
    return `http://${this.endpoints.query}${p}`;
  }

  adminUrl(p) {
    return `http://${this.endpoints.admin}${p}`;
  }
}

// GET url; resolves to { status, body (text), json (parsed or undefined), contentType }.
export async function httpGet(url) {
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  const body = await res.text();
  let json;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  return { url, status: res.status, body, json, contentType: res.headers.get('content-type') };
}

// GET url and require HTTP 200 with a JSON body; returns the parsed JSON.
export async function getJson(url) {
  const r = await httpGet(url);
  if (r.status !== 200 || r.json === undefined) {
    throw new Error(`GET ${url}: expected 200 with JSON, got ${r.status}: ${truncate(r.body)}`);
  }
  return r.json;
}

export function truncate(s, max = 2000) {
  return s.length > max ? `${s.slice(0, max)}... (${s.length} chars)` : s;
}

// Polls `probe()` every intervalMs until it returns a value other than undefined, and resolves to
// that value. `probe` may throw to signal "not yet" too. On timeout throws an Error naming `what`
// and the last observation (the last thrown message or the value of `lastSeen()`).
export async function pollUntil(
  what,
  probe,
  { timeoutMs = POLL_TIMEOUT_MS, intervalMs = POLL_INTERVAL_MS, daemon } = {},
) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt made';
  for (;;) {
    try {
      const v = await probe((obs) => {
        last = obs;
      });
      if (v !== undefined) return v;
    } catch (err) {
      last = err.message;
    }
    if (daemon?.exit) {
      throw new Error(
        `while waiting for ${what}: tailtraced ${daemon.describeExit()}\nstderr: ${daemon.stderrTail()}`,
      );
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${last}`);
    }
    await delay(intervalMs);
  }
}

// Polls Jaeger GET /api/traces/{traceId} until the trace has `spanCount` spans; returns the one
// trace object (data[0]). 404 / empty data / fewer spans mean "not decided yet".
export function pollJaegerTrace(daemon, traceId, spanCount, opts = {}) {
  const url = daemon.queryUrl(`/api/traces/${traceId}`);
  return pollUntil(
    `GET ${url} to return ${spanCount} spans`,
    async (seen) => {
      const r = await httpGet(url);
      if (r.status !== 200 || r.json === undefined) {
        seen(`HTTP ${r.status}: ${truncate(r.body, 500)}`);
        return undefined;
      }
      const data = r.json.data;
      if (!Array.isArray(data) || data.length === 0) {
        seen(`HTTP 200 without traces: ${truncate(r.body, 500)}`);
        return undefined;
      }
      const n = data.reduce((acc, t) => acc + (t.spans?.length ?? 0), 0);
      if (n < spanCount) {
        seen(`HTTP 200 with ${n} of ${spanCount} spans`);
        return undefined;
      }
      return r.json;
    },
    { daemon, ...opts },
  );
}

// Polls GET /api/v3/traces/{traceId} until the OTLP JSON result holds `spanCount` spans; returns
// the whole response body.
export function pollV3Trace(daemon, traceId, spanCount, opts = {}) {
  const url = daemon.queryUrl(`/api/v3/traces/${traceId}`);
  return pollUntil(
    `GET ${url} to return ${spanCount} spans`,
    async (seen) => {
      const r = await httpGet(url);
      if (r.status !== 200 || r.json === undefined) {
        seen(`HTTP ${r.status}: ${truncate(r.body, 500)}`);
        return undefined;
      }
      const rs = r.json?.result?.resourceSpans;
      if (!Array.isArray(rs)) {
        seen(`HTTP 200 without result.resourceSpans: ${truncate(r.body, 500)}`);
        return undefined;
      }
      let n = 0;
      for (const r0 of rs) for (const ss of r0.scopeSpans ?? []) n += ss.spans?.length ?? 0;
      if (n < spanCount) {
        seen(`HTTP 200 with ${n} of ${spanCount} spans`);
        return undefined;
      }
      return r.json;
    },
    { daemon, ...opts },
  );
}
