import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, Socket as NetSocket } from 'node:net';
import { Redis } from 'ioredis';
import { RedisConnection } from '../../lib/cluster/redis-connection.js';
import type { ResolvedRedisOptions } from '../../lib/interfaces/resolved-options.interface.js';

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

/** Stops the Redis this file started, if any (call in afterAll). */
export async function releaseTestRedis(): Promise<void> {
  const resolved = await shared;
  shared = undefined;
  await resolved?.server?.stop();
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

/** Deletes every key under `prefix` (a prefix from `uniquePrefix`: glob characters are escaped anyway). */
export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = plainClient(url);
  try {
    const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    await client.quit().catch(() => undefined);
  }
}

/** Cluster settings for tests, on `url` under `prefix`. */
export function redisSettings(url: string, prefix: string, overrides: Partial<ResolvedRedisOptions> = {}): ResolvedRedisOptions {
  return {
    url, client: null, keyPrefix: prefix, nodeName: 'test-node',
    heartbeatMs: 1000, nodeTimeoutMs: 5000, commandTimeoutMs: 2000, onUnavailable: 'fail-closed',
    ...overrides,
  };
}

/** A library `RedisConnection` for store-level tests; close it with `onApplicationShutdown()`. */
export async function openConnection(url: string, prefix: string, overrides: Partial<ResolvedRedisOptions> = {}): Promise<RedisConnection> {
  const connection = new RedisConnection(redisSettings(url, prefix, overrides));
  if (connection.commands.status !== 'ready') await new Promise<void>((resolve) => connection.commands.once('ready', () => resolve()));
  return connection;
}

/** A `redis-server` of the test's own on a free port: stop and start it to simulate outages (never the shared one). */
export class RedisServer {
  private process: ChildProcess | null = null;

  private constructor(readonly port: number, private readonly password: string | null) {}

  /** `redis://[:password@]127.0.0.1:<port>` */
  get url(): string {
    return `redis://${this.password !== null ? `:${this.password}@` : ''}127.0.0.1:${this.port}`;
  }

  /** Starts one; with `password`, clients must authenticate (`requirepass`). */
  static async start(options: { password?: string } = {}): Promise<RedisServer> {
    if (!hasRedisServer()) throw new Error(HOW_TO_GET_ONE);
    const server = new RedisServer(await freePort(), options.password ?? null);
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

function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
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
function pingPort(port: number, acceptNoAuth = true): Promise<boolean> {
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
