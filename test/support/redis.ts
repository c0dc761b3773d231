import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, Socket as NetSocket } from 'node:net';
import { Cluster, Redis } from 'ioredis';
import { RedisConnection, type RedisClient } from '../../lib/cluster/redis-connection.js';
import type { ResolvedRedisOptions } from '../../lib/interfaces/resolved-options.interface.js';
import { RedisClusterServer } from './redis-cluster.js';

/**
 * Redis for tests, never skipped: `REDIS_URL` if set, else 127.0.0.1:6379 if it answers, else a
 * `redis-server` started here on a free port (stopped by `releaseTestRedis()`), else a failure
 * that says how to get one. Tests isolate themselves with `uniquePrefix()`, never by flushing.
 */
const HOW_TO_GET_ONE = 'Cluster tests need Redis 6.2+: set REDIS_URL, run one on 127.0.0.1:6379 (e.g. `redis-server --port 6379`), or install redis-server (`apt-get install redis-server`) so the tests can start their own.';

let shared: Promise<{ url: string; server: RedisServer | null }> | undefined;

/** The Redis URL the tests use (resolved once per test file). */
export async function testRedisUrl(): Promise<string> {
  shared ??= (async () => {
    if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, server: null };
    if (await pingPort(6379, false)) return { url: 'redis://127.0.0.1:6379', server: null };
    if (!hasRedisServer()) throw new Error(HOW_TO_GET_ONE);
    const server = await RedisServer.start();
    return { url: server.url, server };
  })();
  return (await shared).url;
}

/** Stops the Redis (or Redis Cluster) this file started, if any (call in afterAll). */
export async function releaseTestRedis(): Promise<void> {
  const resolved = await shared;
  shared = undefined;
  await resolved?.server?.stop();
  const cluster = await sharedCluster?.catch(() => undefined);
  sharedCluster = undefined;
  await cluster?.stop();
}

/**
 * Which Redis a test file runs against: `single` (the shared Redis, as `testRedisUrl()` finds it)
 * or `cluster` (a real sharded Redis Cluster of 3 masters and 3 replicas this file starts on
 * free ports, stopped by `releaseTestRedis()`). A `*.sharded.spec.ts` wrapper calls
 * `useRedisTopology('cluster')` and then imports the single-Redis file, so every suite runs on
 * both; `TEST_REDIS_TOPOLOGY=cluster` switches a whole run.
 */
export type RedisTopology = 'single' | 'cluster';

let topology: RedisTopology = process.env.TEST_REDIS_TOPOLOGY === 'cluster' ? 'cluster' : 'single';

/** The topology of this test file. */
export function redisTopology(): RedisTopology {
  return topology;
}

/** Chooses the topology of this test file (call before anything resolves `testRedis()`). */
export function useRedisTopology(value: RedisTopology): void {
  topology = value;
}

/** The Redis of this test file, whichever topology. */
export interface TestRedis {
  readonly topology: RedisTopology;
  /** The `redis` module option's connection part. */
  readonly option: { readonly url: string } | { readonly nodes: readonly string[] };
  /** The sample's environment for it (`REDIS_URL` or `REDIS_CLUSTER_NODES`). */
  readonly sampleEnv: Readonly<Record<string, string>>;
  /** The cluster itself (for failover tests), when `topology` is `cluster`. */
  readonly cluster: RedisClusterServer | null;
  /** A plain client for assertions (a `Cluster` on a cluster); close it with `quit()`. */
  client(): RedisClient;
}

let sharedCluster: Promise<RedisClusterServer> | undefined;

/** This file's Redis: the shared single one, or a Redis Cluster started once for the file. */
export async function testRedis(): Promise<TestRedis> {
  if (topology === 'single') {
    const url = await testRedisUrl();
    return { topology, option: { url }, sampleEnv: { REDIS_URL: url }, cluster: null, client: () => plainClient(url) };
  }
  sharedCluster ??= RedisClusterServer.start();
  return clusterTarget(await sharedCluster);
}

/** The target of a cluster of the test's own (for destructive tests). */
export function clusterTarget(cluster: RedisClusterServer): TestRedis {
  return { topology: 'cluster', option: { nodes: cluster.seeds }, sampleEnv: { REDIS_CLUSTER_NODES: cluster.seeds.join(',') }, cluster, client: () => cluster.client() };
}

/** A Redis of the test's own, of this file's topology, that the test may stop, restart and flush. */
export interface OwnRedis {
  /** For `startSampleNode({ redisUrl })`: a URL (single) or a cluster target. */
  readonly target: string | TestRedis;
  /** SIGKILL (every member of a cluster): an outage. */
  stop(): Promise<void>;
  /** Back on the same port(s), empty. */
  restart(): Promise<void>;
  /** FLUSHALL (on every master of a cluster). */
  flushAll(): Promise<void>;
  /** Stops it for good (afterAll). */
  dispose(): Promise<void>;
}

/**
 * Starts a Redis of the test's own: a `redis-server` (with `password`, if given) on a single
 * topology, a Redis Cluster of 3 masters and 3 replicas on a cluster one (seeds only: the sample
 * takes no password for a cluster).
 */
export async function startOwnRedis(options: { password?: string } = {}): Promise<OwnRedis> {
  if (topology === 'cluster') {
    const cluster = await RedisClusterServer.start();
    return { target: clusterTarget(cluster), stop: () => cluster.halt(), restart: () => cluster.resume(), flushAll: () => cluster.flushAll(), dispose: () => cluster.stop() };
  }
  const server = await RedisServer.start(options);
  return {
    target: server.url, stop: () => server.stop(), restart: () => server.restart(), dispose: () => server.stop(),
    flushAll: async () => {
      const client = plainClient(server.url);
      try {
        await client.flushall();
      } finally {
        await client.quit();
      }
    },
  };
}

/** Every key matching `pattern` (KEYS on each master of a cluster: tests only, on small data sets). */
export async function keysMatching(client: RedisClient, pattern: string): Promise<string[]> {
  if (client instanceof Cluster) {
    if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
    return (await Promise.all(client.nodes('master').map((member) => member.keys(pattern)))).flat();
  }
  return client.keys(pattern);
}

/** A plain client on an own Redis's target. */
export function clientFor(target: string | TestRedis): RedisClient {
  return typeof target === 'string' ? plainClient(target) : target.client();
}

/** A key prefix no other test (or earlier run) uses. */
export function uniquePrefix(label: string): string {
  return `rts-test:${label}:${process.pid}:${randomBytes(4).toString('hex')}:`;
}

/** A plain client for assertions; close it with `quit()`. */
export function plainClient(url: string): Redis {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
  client.on('error', () => undefined);
  return client;
}

/** Deletes every key under `prefix` (a prefix from `uniquePrefix`: glob characters are escaped anyway), on every master of a cluster. */
export async function deleteKeys(target: string | TestRedis, prefix: string): Promise<void> {
  const client = typeof target === 'string' ? plainClient(target) : target.client();
  try {
    const pattern = `${prefix.replace(/[*?[\]\\{}]/g, '\\$&')}*`;
    const members: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
    for (const member of members) {
      let cursor = '0';
      do {
        const [next, keys] = await member.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        cursor = next;
        // One DEL per key: on a cluster, the keys of one call must share a slot.
        await Promise.all(keys.map((key) => client.del(key)));
      } while (cursor !== '0');
    }
  } finally {
    await client.quit().catch(() => undefined);
  }
}

/** Cluster settings for tests, on `target` (a URL or a test Redis) under `prefix`. */
export function redisSettings(target: string | TestRedis, prefix: string, overrides: Partial<ResolvedRedisOptions> = {}): ResolvedRedisOptions {
  const option = typeof target === 'string' ? { url: target } : target.option;
  const nodes = 'nodes' in option ? option.nodes.map((seed) => ({ host: seed.slice(0, seed.lastIndexOf(':')), port: Number(seed.slice(seed.lastIndexOf(':') + 1)) })) : null;
  return {
    url: 'url' in option ? option.url : null, nodes, client: null, keyPrefix: prefix, nodeName: 'test-node',
    heartbeatMs: 1000, nodeTimeoutMs: 5000, commandTimeoutMs: 2000, onUnavailable: 'fail-closed',
    ...overrides,
  };
}

/** A library `RedisConnection` for store-level tests; close it with `onApplicationShutdown()`. */
export async function openConnection(target: string | TestRedis, prefix: string, overrides: Partial<ResolvedRedisOptions> = {}): Promise<RedisConnection> {
  const connection = new RedisConnection(redisSettings(target, prefix, overrides));
  if (connection.commands.status !== 'ready') await new Promise<void>((resolve) => connection.commands.once('ready', () => resolve()));
  return connection;
}

/** A `redis-server` of the test's own on a free port: stop and start it to simulate outages (never the shared one). */
export class RedisServer {
  private process: ChildProcess | null = null;

  private constructor(readonly port: number, private readonly password: string | null, private readonly debugCommand = false) {}

  /** `redis://[:password@]127.0.0.1:<port>` */
  get url(): string {
    return `redis://${this.password !== null ? `:${this.password}@` : ''}127.0.0.1:${this.port}`;
  }

  /**
   * Starts one; with `password`, clients must authenticate (`requirepass`); with `debugCommand`,
   * `DEBUG` (e.g. `DEBUG SLEEP` to stall it) is allowed from local connections.
   */
  static async start(options: { password?: string; debugCommand?: boolean } = {}): Promise<RedisServer> {
    if (!hasRedisServer()) throw new Error(HOW_TO_GET_ONE);
    const server = new RedisServer(await freePort(), options.password ?? null, options.debugCommand === true);
    await server.restart();
    return server;
  }

  get running(): boolean {
    return this.process !== null;
  }

  /** Starts (again) on the same port, with no persistence: a restart loses every key. */
  async restart(): Promise<void> {
    if (this.process !== null) return;
    const auth = this.password !== null ? ['--requirepass', this.password] : [];
    if (this.debugCommand) auth.push('--enable-debug-command', 'local');
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...auth], { stdio: 'ignore' });
    this.process = child;
    child.once('exit', () => { if (this.process === child) this.process = null; });
    const deadline = Date.now() + 10_000;
    while (!(await pingPort(this.port))) {
      if (this.process !== child) throw new Error(`redis-server exited at start on port ${this.port}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${this.port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** Stops it (SIGKILL: an outage, not a goodbye) and waits for the exit. */
  async stop(): Promise<void> {
    const child = this.process;
    if (child === null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    this.process = null;
  }
}

export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True when a Redis on 127.0.0.1:`port` answers PING (with PONG, or NOAUTH when it wants a password). */
export function pingPort(port: number, acceptNoAuth = true): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new NetSocket();
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG') || (acceptNoAuth && answer.startsWith('-NOAUTH')));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}
