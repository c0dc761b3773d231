import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { IpcClient } from '../support/ipc.js';
import type { StormLoadConfig, StormLoadStats } from './storm-load.main.js';

/**
 * The reconnect-storm phase of `npm run soak` (THREATS 44): two sample nodes on a redis-server of
 * its own, `users` users with one Socket.IO client on each node (2 x users clients, default
 * reconnection, in a separate load process). Then one node is restarted (a new process on the same
 * port) and the storm measured: time until every client is connected again, handshakes refused
 * and why, and whether presence (every user online with exactly 2 connections) and the per-user
 * slots in Redis end exact, and all at zero once the clients leave (no leaked slot). Runs:
 *  1. SIGTERM, clients behind a trusted proxy (each with its own X-Forwarded-For);
 *  2. SIGKILL, the same (the dead node's slots are reaped by the other one);
 *  3. SIGTERM, every client from one address, no trusted proxy: the per-address handshake
 *     bucket (600 per minute, bursting to 600) is what the storm runs into.
 * Writes bench/soak/results/storm.json; exits non-zero when a run does not end exact.
 * Options: --storm-users / STORM_USERS (1000), --storm-runs / STORM_RUNS (1,2,3).
 */
const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '../../..');
const RESULTS = join(ROOT, 'bench/soak/results/storm.json');
const SECRET = randomBytes(32).toString('base64url');
const TENANT = 'storm';
const SETTLE_TIMEOUT_MS = 300_000;

interface RunSpec { readonly name: string; readonly signal: 'SIGTERM' | 'SIGKILL'; readonly forwardedFor: boolean }
const RUNS: readonly RunSpec[] = [
  { name: 'sigterm-behind-proxy', signal: 'SIGTERM', forwardedFor: true },
  { name: 'sigkill-behind-proxy', signal: 'SIGKILL', forwardedFor: true },
  { name: 'sigterm-one-address', signal: 'SIGTERM', forwardedFor: false },
];

interface Node { readonly process: ChildProcess; readonly url: string; readonly exited: Promise<void> }

function option(name: string, env: string, fallback: string): string {
  const flag = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return flag !== undefined ? flag.slice(name.length + 3) : process.env[env] ?? fallback;
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

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`storm: ${what} not reached within ${timeoutMs} ms`);
    await delay(100);
  }
  return Date.now() - started;
}

async function startRedis(): Promise<{ url: string; stop(): void }> {
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error('storm: redis-server is not on PATH (apt-get install redis-server).');
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => undefined);
  await until('redis-server answering', async () => client.connect().then(() => true, () => false), 10_000);
  client.disconnect();
  return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill('SIGKILL') };
}

async function startNode(port: number, redisUrl: string, nodeId: string, trustProxy: boolean): Promise<Node> {
  const child = fork(join(HERE, 'storm-node.main.js'), [], {
    env: {
      PATH: process.env.PATH ?? '', NODE_ENV: 'production', PORT: String(port), HOST: '127.0.0.1', JWT_SECRET: SECRET, DEMO_LOGIN: 'off',
      ALLOWED_ORIGINS: 'http://127.0.0.1', REDIS_URL: redisUrl, NODE_ID: nodeId, ...(trustProxy ? { TRUSTED_PROXIES: '127.0.0.1' } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`storm: node ${nodeId} did not start`)), 60_000);
    const onData = (chunk: Buffer) => {
      if (chunk.toString().includes('listening on')) { clearTimeout(timer); resolve(); }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => { const text = chunk.toString(); if (/error/i.test(text)) process.stderr.write(`[${nodeId}] ${text}`); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`storm: node ${nodeId} exited (${code}) before listening`)); });
  });
  child.stdout?.resume();
  return { process: child, url, exited };
}

function moderatorToken(): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: 'storm-moderator', tenant: TENANT, perms: ['moderation:read'], iat: now, exp: now + 3600 })}`;
  return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
}

/** Online users and their connection counts, as a node's presence route lists them. */
async function presence(node: Node): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  let cursor: string | undefined;
  do {
    const response = await fetch(`${node.url}/moderation/presence?limit=1000${cursor !== undefined ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, { headers: { authorization: `Bearer ${moderatorToken()}` } });
    // A busy node may time out on Redis: an incomplete view, asked again by the caller's loop.
    if (!response.ok) return new Map([['(unavailable)', -1]]);
    const page = (await response.json()) as { users: { userId: string; connections: number }[]; nextCursor?: string };
    for (const user of page.users) seen.set(user.userId, user.connections);
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return seen;
}

/** Slots held per user in Redis. */
async function slots(redis: Redis): Promise<Map<string, number>> {
  const held = new Map<string, number>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `rts:lease:${TENANT}/*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      const n = await redis.hlen(key);
      if (n > 0) held.set(key.slice(`rts:lease:${TENANT}/`.length), n);
    }
  } while (cursor !== '0');
  return held;
}

/** `users: {connections: how many users}` */
function describeCounts(map: Map<string, number>): string {
  const histogram: Record<number, number> = {};
  for (const n of map.values()) histogram[n] = (histogram[n] ?? 0) + 1;
  return `${map.size} users ${JSON.stringify(histogram)}`;
}

function exact(map: Map<string, number>, users: number, each: number): boolean {
  if (map.size !== users) return false;
  for (const n of map.values()) if (n !== each) return false;
  return true;
}

async function stormRun(spec: RunSpec, users: number): Promise<Record<string, unknown>> {
  const redisServer = await startRedis();
  const redis = new Redis(redisServer.url);
  const ports = [await freePort(), await freePort()] as const;
  let a = await startNode(ports[0], redisServer.url, `storm-a-${spec.name}`, spec.forwardedFor);
  const b = await startNode(ports[1], redisServer.url, `storm-b-${spec.name}`, spec.forwardedFor);
  const loadProcess = fork(join(HERE, 'storm-load.main.js'), [], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const load = new IpcClient(loadProcess, 'storm load');
  const clients = 2 * users;
  try {
    await load.call('open', { urls: [a.url, b.url], secret: SECRET, tenant: TENANT, users, forwardedFor: spec.forwardedFor } satisfies StormLoadConfig);
    const initialMs = await until(`${clients} clients connected`, async () => (await load.call<StormLoadStats>('stats')).connected === clients, SETTLE_TIMEOUT_MS)
      .catch(async (error: unknown) => { throw new Error(`${String(error)}: ${JSON.stringify(await load.call<StormLoadStats>('stats'))}`); });
    const initialRefusals = (await load.call<StormLoadStats>('stats')).refusals;
    let before: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
    await until('presence and slots exact before the restart', async () => {
      before = await Promise.all([presence(b), slots(redis)]);
      return exact(before[0], users, 2) && exact(before[1], users, 2);
    }, SETTLE_TIMEOUT_MS).catch((error: unknown) => { throw new Error(`${String(error)}: presence ${describeCounts(before[0])}, slots ${describeCounts(before[1])}`); });
    await load.call('reset');
    // The restart: the signal, then a new process (new node id, as a restarted pod gets) on the same port.
    const signalledAt = Date.now();
    a.process.kill(spec.signal);
    await a.exited;
    const downMs = Date.now() - signalledAt;
    a = await startNode(ports[0], redisServer.url, `storm-a2-${spec.name}`, spec.forwardedFor);
    const upMs = Date.now() - signalledAt;
    let lowest = clients;
    await until('every client connected again', async () => {
      const { connected } = await load.call<StormLoadStats>('stats');
      lowest = Math.min(lowest, connected);
      return connected === clients && Date.now() - signalledAt > downMs;
    }, SETTLE_TIMEOUT_MS);
    const reconnectedMs = Date.now() - signalledAt;
    const storm = await load.call<StormLoadStats>('stats');
    let presenceB = new Map<string, number>();
    let presenceA = new Map<string, number>();
    let held = new Map<string, number>();
    await until('presence and slots exact after the storm', async () => {
      [presenceA, presenceB, held] = await Promise.all([presence(a), presence(b), slots(redis)]);
      return exact(presenceA, users, 2) && exact(presenceB, users, 2) && exact(held, users, 2);
    }, SETTLE_TIMEOUT_MS).catch((error: unknown) => { throw new Error(`${String(error)}: presence on a ${describeCounts(presenceA)}, on b ${describeCounts(presenceB)}, slots ${describeCounts(held)}`); });
    const exactMs = Date.now() - signalledAt;
    await load.call('close');
    await until('no slot and nobody online after the clients left', async () => (await slots(redis)).size === 0 && (await presence(b)).size === 0, SETTLE_TIMEOUT_MS);
    const result = {
      run: spec.name, signal: spec.signal, clients, users, clientsBehindTrustedProxy: spec.forwardedFor,
      initialConnectMs: initialMs, initialRefusals,
      nodeDownMs: downMs, nodeBackMs: upMs, lowestConnected: lowest,
      allReconnectedMs: reconnectedMs, presenceAndSlotsExactMs: exactMs,
      refusedHandshakes: storm.refusals, disconnects: storm.disconnects, reconnectAttempts: storm.reconnectAttempts, appRetries: storm.appRetries,
      leakedSlotsAfterClose: 0,
    };
    console.log(`storm ${spec.name}: ${clients} clients; node down ${downMs} ms, back ${upMs} ms; all reconnected ${reconnectedMs} ms after the ${spec.signal}; presence and slots exact at ${exactMs} ms; refusals ${JSON.stringify(storm.refusals)}; reconnect attempts ${storm.reconnectAttempts}, app retries ${storm.appRetries}`);
    return result;
  } finally {
    loadProcess.kill('SIGKILL');
    a.process.kill('SIGKILL');
    b.process.kill('SIGKILL');
    await Promise.all([a.exited, b.exited]);
    redis.disconnect();
    redisServer.stop();
  }
}

async function main(): Promise<void> {
  const users = Number(option('storm-users', 'STORM_USERS', '1000'));
  if (!Number.isInteger(users) || users < 1 || users > 5000) throw new Error('--storm-users (STORM_USERS) must be an integer from 1 to 5000.');
  const chosen = option('storm-runs', 'STORM_RUNS', '1,2,3').split(',').map((n) => RUNS[Number(n) - 1]).filter((r): r is RunSpec => r !== undefined);
  const results: Record<string, unknown>[] = [];
  for (const spec of chosen) results.push(await stormRun(spec, users));
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2)}\n`);
  console.log(`storm: results in ${RESULTS}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
