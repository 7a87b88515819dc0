// A private ClickHouse cluster for an end-to-end test file: a ZooKeeper and four clickhouse-server
// processes (lib/clickhouse.mjs's ClickHouseServer), two shards of two replicas, named
// `tailtrace_test` in every server's remote_servers. startClickHouseCluster() makes one temp dir
// holding zookeeper/ and server0/ ... server3/, picks free loopback ports (ZooKeeper's client
// port; per server HTTP, native TCP and interserver HTTP), starts ZooKeeper and resolves once it
// serves sessions, then starts the four servers at once and resolves once each answers /ping and
// its log says its DDL worker reached ZooKeeper (18.16 crashes on DDL ON CLUSTER before that).
// Servers 0 and 1 are shard 01, servers 2 and 3 shard 02; each has its own {replica} macro,
// so that the ReplicatedMergeTree tables of storage.clickhouse.cluster (ZooKeeper path
// /clickhouse/tables/{shard}/..., replica {replica}) get one replica per server, and DDL ON
// CLUSTER runs through ZooKeeper's /clickhouse/task_queue/ddl.
//
// Each server is stopped, killed, paused and started again like a lone one (stop(), kill(),
// start(), restart(), query(), rows()); the ZooKeeper too (stop(), kill(), start()). Everything
// dies with the test process (setpriv --pdeathsig and an exit hook, as lib/clickhouse.mjs does);
// temp dirs of test processes that died anyway are removed by the next startClickHouseCluster().
//
// ZooKeeper is Debian's `zookeeper` package (the jar and a Java runtime), which `make deps`
// installs; TAILTRACE_JAVA overrides the java binary (default: `java` on PATH).

import net from 'node:net';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CLICKHOUSE_READY_TIMEOUT_MS,
  ClickHouseServer,
  clickhouseBinary,
  describeExit,
  fileTail,
  fillTemplate,
  freePort,
  removeDirectoriesOfDeadProcesses,
  spawnTied,
  writeServerConfig,
} from './clickhouse.mjs';

export const CLUSTER_NAME = 'tailtrace_test';
export const SHARDS = 2;
export const REPLICAS_PER_SHARD = 2;
export const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
// Default: how long ZooKeeper may take to answer "ruok".
export const ZOOKEEPER_READY_TIMEOUT_MS = 30_000;
// ZooKeeper's tick (ms): sessions may be as short as two ticks (the default tick, 3 s, makes 6 s
// the shortest).
const ZOOKEEPER_TICK_MS = 1_000;
// The servers' ZooKeeper session timeout. A SIGKILLed replica stays "active" in ZooKeeper until
// its session expires, and when started again it waits for that before it takes part in quorum
// inserts (ClickHouse's default, 30 s, would make a killed replica's test wait that long); short
// enough for the tests, long enough that two busy cores do not expire live sessions.
export const ZOOKEEPER_SESSION_TIMEOUT_MS = 5_000;
const RUOK_INTERVAL_MS = 50;
// Tries with new ports when the cluster does not start (another process may take a port between
// our probe and a server's bind).
const START_TRIES = 3;
const DIR_PREFIX = 'tailtrace-e2e-chcluster-';

// [java, jar], or throws saying how to get them.
export function zookeeperCommand() {
  const executable = (p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  const env = process.env.TAILTRACE_JAVA;
  const java = env
    ? env
    : (process.env.PATH ?? '/usr/bin:/bin')
        .split(':')
        .map((d) => path.join(d || '.', 'java'))
        .find(executable);
  if (!java || !executable(java)) {
    throw new Error(
      `java is not installed${env ? ` at ${env}` : ' (none on PATH)'}, and ZooKeeper needs it: ` +
        "run `make deps` to install Debian's zookeeper package and its Java runtime, or set " +
        'TAILTRACE_JAVA to a java binary',
    );
  }
  try {
    accessSync(ZOOKEEPER_JAR, constants.R_OK);
  } catch (err) {
    throw new Error(
      `ZooKeeper is not installed at ${ZOOKEEPER_JAR} (${err.code ?? err.message}): run ` +
        "`make deps` to install Debian's zookeeper package",
    );
  }
  return [java, ZOOKEEPER_JAR];
}

// Sends one of ZooKeeper's four-letter words; resolves to the answer.
function fourLetterWord(port, word, timeoutMs = 1_000) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.setTimeout(timeoutMs, () =>
      socket.destroy(new Error(`no answer within ${timeoutMs} ms`)),
    );
    socket.on('connect', () => socket.end(word));
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}

// A standalone ZooKeeper server (ZooKeeperServerMain PORT DATADIR TICK) on 127.0.0.1:port.
export class ZooKeeper {
  constructor(java, jar, dir, readyTimeoutMs = ZOOKEEPER_READY_TIMEOUT_MS) {
    this.java = java;
    this.jar = jar;
    this.dir = dir;
    this.readyTimeoutMs = readyTimeoutMs;
    this.port = 0;
    this.child = null;
    this.exit = null;
  }

  get running() {
    return this.child !== null && this.exit === null;
  }

  logTail(maxChars = 2000) {
    return fileTail(path.join(this.dir, 'zookeeper.log'), maxChars).trimEnd() || '(empty)';
  }

  describeExit() {
    return describeExit(this.exit);
  }

  // Starts ZooKeeper (again: same port and data) and resolves once it answers "ruok" with "imok"
  // and serves (the server's state in the answer to "srvr").
  async start() {
    if (this.running) return;
    await mkdir(path.join(this.dir, 'data'), { recursive: true });
    this.exit = null;
    const { child, exited } = spawnTied(
      this.java,
      [
        // A small, quickly started JVM: ZooKeeper holds a few hundred znodes here.
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-Dzookeeper.admin.enableServer=false',
        '-Dzookeeper.4lw.commands.whitelist=ruok,srvr',
        '-cp',
        this.jar,
        'org.apache.zookeeper.server.ZooKeeperServerMain',
        String(this.port),
        path.join(this.dir, 'data'),
        String(ZOOKEEPER_TICK_MS),
      ],
      { cwd: this.dir, logFile: path.join(this.dir, 'zookeeper.log') },
    );
    this.child = child;
    this.exited = exited.then((exit) => {
      this.exit = exit;
      return exit;
    });
    const deadline = Date.now() + this.readyTimeoutMs;
    let last = 'no answer yet';
    for (;;) {
      if (this.exit) {
        throw new Error(
          `ZooKeeper (${this.java} -cp ${this.jar}) ${this.describeExit()} before answering ` +
            `"ruok" on port ${this.port}; its output ends with:\n${this.logTail()}`,
        );
      }
      try {
        // "imok" comes a moment before ZooKeeper takes sessions ("srvr" says "not currently
        // serving requests" until then), and a clickhouse-server 18.16 whose DDL worker found
        // ZooKeeper closed at its start crashes on its first ON CLUSTER query.
        last = await fourLetterWord(this.port, 'ruok');
        if (last === 'imok') {
          last = await fourLetterWord(this.port, 'srvr');
          if (/^Mode: /m.test(last)) return;
        }
      } catch (err) {
        last = err.message;
      }
      if (Date.now() >= deadline) {
        await this.kill();
        throw new Error(
          `ZooKeeper did not answer "ruok" on port ${this.port} within ${this.readyTimeoutMs} ms ` +
            `(last: ${last}); its output ends with:\n${this.logTail()}`,
        );
      }
      await delay(RUOK_INTERVAL_MS);
    }
  }

  // SIGTERM, then SIGKILL if it has not exited within timeoutMs.
  async stop(timeoutMs = 10_000) {
    if (!this.running) return this.exit;
    this.child.kill('SIGTERM');
    const result = await Promise.race([this.exited, delay(timeoutMs, 'timeout', { ref: false })]);
    return result === 'timeout' ? this.kill() : result;
  }

  async kill(signal = 'SIGKILL') {
    if (!this.child) return null;
    if (!this.exit) this.child.kill(signal);
    return this.exited;
  }
}

// What a server's debug log says once its distributed DDL worker has a ZooKeeper session. A
// server answers /ping before that, and ClickHouse 18.16 crashes on an ON CLUSTER statement that
// comes in between (a null ZooKeeper handle): a cluster server is started only once it says so.
const DDL_WORKER_READY = '<Debug> DDLWorker: Processing tasks';
const DDL_WORKER_POLL_MS = 50;

// A server of the cluster: logs at debug level, and start() also waits for DDL_WORKER_READY in
// what the log gained since.
class ClusterServer extends ClickHouseServer {
  async start() {
    if (this.running) return;
    const log = path.join(this.dir, 'server.log');
    let from = 0;
    try {
      from = statSync(log).size;
    } catch {
      // No log yet: the first start.
    }
    await super.start();
    const deadline = Date.now() + this.readyTimeoutMs;
    for (;;) {
      let text = '';
      try {
        text = readFileSync(log).subarray(from).toString();
      } catch {
        // Not written yet.
      }
      if (text.includes(DDL_WORKER_READY)) return;
      if (!this.running) {
        throw new Error(`clickhouse-server ${this.describeExit()}: ${this.logTail()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `clickhouse-server on port ${this.httpPort} answered /ping but its DDL worker did not ` +
            `reach ZooKeeper within ${this.readyTimeoutMs} ms: ${this.logTail()}`,
        );
      }
      await delay(DDL_WORKER_POLL_MS);
    }
  }
}

// Server `server`'s config.d/cluster.xml: tests/clickhouse/cluster.xml (2 shards of 2 replicas,
// as SHARDS and REPLICAS_PER_SHARD say) filled in.
function clusterXml(server, zookeeperPort, servers) {
  return fillTemplate('cluster.xml', {
    INTERSERVER_PORT: server.interserverPort,
    ZOOKEEPER_PORT: zookeeperPort,
    ZOOKEEPER_SESSION_TIMEOUT_MS: ZOOKEEPER_SESSION_TIMEOUT_MS,
    SHARD: String(server.shard).padStart(2, '0'),
    REPLICA: server.replica,
    ...Object.fromEntries(servers.map((s, i) => [`TCP_PORT_${i}`, s.tcpPort])),
  });
}

export class ClickHouseCluster {
  constructor(dir, zookeeper, servers) {
    this.name = CLUSTER_NAME;
    this.dir = dir;
    this.zookeeper = zookeeper;
    // servers[i]: a ClickHouseServer with .shard (1-based), .replica (its macro) and
    // .interserverPort; servers 2k and 2k + 1 are the replicas of shard k + 1.
    this.servers = servers;
  }

  // The servers of shard `shard` (1-based).
  replicasOf(shard) {
    return this.servers.filter((s) => s.shard === shard);
  }

  // "server i (shard s, replica r): its error log" for each server, for failure messages.
  logTails(maxChars = 1000) {
    return this.servers
      .map((s, i) => `server ${i} (shard ${s.shard}, ${s.replica}): ${s.logTail(maxChars)}`)
      .join('\n');
  }

  async kill() {
    await Promise.all([...this.servers.map((s) => s.kill()), this.zookeeper.kill()]);
  }

  // Kills every process (their data goes too) and removes the dir.
  async cleanup() {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

// Starts ZooKeeper and the four servers; resolves to a ClickHouseCluster once all of them answer.
// Rejects naming what did not start (with the end of its log) after START_TRIES tries with fresh
// ports; nothing is left behind then.
export async function startClickHouseCluster({
  readyTimeoutMs = CLICKHOUSE_READY_TIMEOUT_MS,
} = {}) {
  const bin = clickhouseBinary();
  const [java, jar] = zookeeperCommand();
  const tmp = tmpdir();
  await removeDirectoriesOfDeadProcesses(tmp, DIR_PREFIX);
  const dir = await mkdtemp(path.join(tmp, `${DIR_PREFIX}${process.pid}-`));
  const zookeeper = new ZooKeeper(java, jar, path.join(dir, 'zookeeper'));
  const servers = [];
  for (let i = 0; i < SHARDS * REPLICAS_PER_SHARD; i++) {
    const server = new ClusterServer(bin, path.join(dir, `server${i}`), readyTimeoutMs);
    server.shard = Math.floor(i / REPLICAS_PER_SHARD) + 1;
    server.replica = `server${i}`;
    servers.push(server);
  }
  const cluster = new ClickHouseCluster(dir, zookeeper, servers);
  let lastError;
  for (let attempt = 0; attempt < START_TRIES; attempt++) {
    // A fresh start: no ZooKeeper state or tables from a try that failed.
    await Promise.all(
      [zookeeper, ...servers].map((p) => rm(p.dir, { recursive: true, force: true })),
    );
    const taken = [];
    const port = async () => {
      const p = await freePort(taken);
      taken.push(p);
      return p;
    };
    zookeeper.port = await port();
    for (const s of servers) {
      s.httpPort = await port();
      s.tcpPort = await port();
      s.interserverPort = await port();
    }
    for (const s of servers) {
      await writeServerConfig(s, {
        logLevel: 'debug',
        overrides: { cluster: clusterXml(s, zookeeper.port, servers) },
      });
    }
    try {
      // The servers connect to ZooKeeper as they start (DDL worker, replicated tables).
      await zookeeper.start();
      const started = await Promise.allSettled(servers.map((s) => s.start()));
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      return cluster;
    } catch (err) {
      lastError = err;
      await cluster.kill();
    }
  }
  await cluster.cleanup();
  throw lastError;
}
