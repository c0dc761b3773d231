import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Socket } from 'socket.io-client';
import { io } from 'socket.io-client';
import { closeAllClients, connect, connected, TRANSPORTS } from '../support/clients.js';
import { clusterToken, httpJson, killNode, presenceOn, startSampleNode, stopAll, stopNode, type SampleNode } from '../support/cluster.js';
import { redisTopology, startOwnRedis, type OwnRedis } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS.md 29-34 (cluster faults) against real sample processes (`node dist-sample/sample/main.js`)
 * on a Redis of this file's own (so it can be stopped, restarted and flushed without touching other
 * suites). The preamble holds after each case: a control client connected on node A before the
 * attack keeps its acks, every node stays up, presence and connection counts are back to the
 * baseline on every node, and no token or engine sid is in any node's output. Longer variants:
 * test/cluster/*.spec.ts, test/contract/stores.redis.spec.ts. `cluster.sharded.spec.ts` runs this
 * file on a Redis Cluster of its own (3 masters, 3 replicas: stopped, restarted and flushed whole).
 */
const run = randomBytes(3).toString('hex');
const TENANT = `attack-${run}`;
const MAX = 3;
/** Heartbeat 1 s + node timeout 5 s + reaping, as the README promises, with slack. */
const REAP_BOUND_MS = 10_000;

let redis: OwnRedis;
let a: SampleNode;
let b: SampleNode;
const extra: SampleNode[] = [];
let control: Socket;
/** Every token and engine sid this file used: none may be printed by a node. */
const secrets = new Set<string>();

function token(user: string, perms: string[] = ['channel:*']): string {
  const t = clusterToken(user, TENANT, perms);
  secrets.add(t);
  return t;
}
const moderator = (perms = ['moderation:*']) => token('moderator', perms);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** This file's own build of the sample (ignored by git), so another suite rebuilding dist-sample never pulls it from under these nodes. */
// One per topology: the single and the sharded run may build at the same time in two workers.
const OUT = join(ROOT, `test-artifacts/attacks-sample${redisTopology() === 'cluster' ? '-sharded' : ''}`);
let entry = '';

/** Compiles lib + sample into OUT (incrementally) and copies the web page beside it. */
function buildPrivateSample(): string {
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'sample/tsconfig.json', '--outDir', OUT, '--incremental', '--tsBuildInfoFile', join(OUT, '.tsbuildinfo')], { cwd: ROOT, encoding: 'utf8' });
  cpSync(join(ROOT, 'sample/web/public'), join(OUT, 'sample/web/public'), { recursive: true });
  const main = join(OUT, 'sample/main.js');
  // tsc emits even when another helper's in-progress file has a type error; the entry point is what counts.
  if (!existsSync(main)) throw new Error(`the sample did not compile into ${OUT}:\n${result.stdout}\n${result.stderr}`);
  return main;
}

const start = (name: string) => startSampleNode({ entry, redisUrl: redis.target, nodeId: `${name}-${run}`, env: { MAX_CONNECTIONS_PER_USER: String(MAX), HANDSHAKE_RATE_PER_ADDRESS: '0' } });
const open = (node: SampleNode, user: string, transport: 'polling' | 'websocket' = 'websocket', perms?: string[]) => connected(node.url, '/chat', { transports: [transport], auth: { token: token(user, perms) } });
const attempt = (node: SampleNode, user: string, transport: 'polling' | 'websocket' = 'websocket') => connect(node.url, '/chat', { transports: [transport], auth: { token: token(user) } });

async function usersOn(node: SampleNode): Promise<string[]> {
  const { status, body } = await httpJson('GET', `${node.url}/moderation/presence`, moderator(['moderation:read']));
  if (status !== 200) return [`HTTP ${status}`];
  return (body as { users: { userId: string; status: string; connections: number }[] }).users.map((u) => `${u.userId}:${u.status}:${u.connections}`);
}

beforeAll(async () => {
  entry = buildPrivateSample();
  redis = await startOwnRedis();
  [a, b] = await Promise.all([start('a'), start('b')]);
  control = io(`${a.url}/chat`, { forceNew: true, reconnection: false, transports: ['websocket'], auth: { token: token('control', ['channel:*', 'presence:read']) } });
  await new Promise<void>((resolve, reject) => { control.once('connect', () => resolve()); control.once('connect_error', reject); });
  secrets.add(control.io.engine.id);
  await waitFor('control online on both nodes', async () => (await usersOn(b)).join() === 'control:online:1');
}, 90_000);

afterEach(async () => {
  closeAllClients();
  for (const node of [a, b]) expect((await httpJson('GET', `${node.url}/health`)).status).toBe(200);
  expect(control.connected).toBe(true);
  expect(((await control.timeout(5000).emitWithAck('presence:list', {})) as { ok?: boolean }).ok).toBe(true);
  for (const node of [a, b]) {
    let seen: string[] = [];
    await waitFor(`presence back to the baseline on ${node.nodeId}`, async () => {
      seen = await usersOn(node);
      return seen.join() === 'control:online:1';
    }, REAP_BOUND_MS, 100).catch(() => expect(seen).toEqual(['control:online:1']));
  }
  const printed = [a, b, ...extra].flatMap((node) => node.output).join('\n');
  expect([...secrets].filter((s) => printed.includes(s))).toEqual([]);
}, 30_000);

afterAll(async () => {
  control?.disconnect();
  await stopAll([a, b, ...extra]);
  await redis?.dispose();
});

describe('THREATS 29 — parallel handshakes of one user across nodes', () => {
  it.each(TRANSPORTS)('24 handshakes at once over two nodes: exactly the ceiling succeeds; each close frees exactly one slot (%s)', async (transport) => {
    const outcomes = await Promise.all(Array.from({ length: 24 }, (_, i) => attempt(i % 2 === 0 ? a : b, 'racer', transport)));
    const admitted = outcomes.filter((o) => o.connected);
    expect(admitted).toHaveLength(MAX);
    expect(new Set(outcomes.filter((o) => !o.connected).map((o) => o.error?.data?.code))).toEqual(new Set(['CONNECTION_LIMIT']));
    for (const node of [a, b]) expect((await presenceOn(node, TENANT, 'racer')).connections).toBe(MAX);
    (admitted[0] as { socket: Socket }).socket.disconnect();
    await waitFor('one slot freed', async () => (await presenceOn(b, TENANT, 'racer')).connections === MAX - 1);
    const next = await Promise.all(Array.from({ length: 6 }, (_, i) => attempt(i % 2 === 0 ? b : a, 'racer', transport)));
    expect(next.filter((o) => o.connected)).toHaveLength(1);
  });
});

describe('THREATS 30 — a node killed with SIGKILL', () => {
  it('its users go offline on the other nodes within the bound, their slots are released, no ghost stays', async () => {
    const doomed = await start('doomed');
    extra.push(doomed);
    await open(doomed, 'kim');
    await open(doomed, 'kim', 'polling');
    await open(b, 'lee');
    await open(doomed, 'lee');
    await waitFor('kim online on a', async () => (await presenceOn(a, TENANT, 'kim')).connections === 2);
    const killedAt = Date.now();
    await killNode(doomed);
    await waitFor('kim reaped on a', async () => (await presenceOn(a, TENANT, 'kim')).connections === 0, REAP_BOUND_MS + 2000, 50);
    expect(Date.now() - killedAt).toBeLessThanOrEqual(REAP_BOUND_MS);
    await waitFor('kim offline everywhere', async () => (await presenceOn(a, TENANT, 'kim')).status === 'offline' && (await presenceOn(b, TENANT, 'kim')).status === 'offline');
    expect(await presenceOn(b, TENANT, 'lee')).toMatchObject({ status: 'online', connections: 1 });
    const kimAgain = await Promise.all(Array.from({ length: 6 }, () => attempt(b, 'kim')));
    expect(kimAgain.filter((o) => o.connected)).toHaveLength(MAX);
  });
});

describe('THREATS 31 — graceful shutdown', () => {
  it('presence is cleaned at once; a user reconnecting elsewhere causes no offline/online storm', async () => {
    const leaving = await start('leaving');
    extra.push(leaving);
    const watcher = await open(a, 'watcher', 'websocket', ['presence:read']);
    const updates: { userId: string; status: string }[] = [];
    watcher.on('presence_update', (u: { userId: string; status: string }) => updates.push(u));
    const gus = await open(leaving, 'gus');
    const hal = await open(leaving, 'hal');
    await waitFor('gus and hal online on a', async () => (await presenceOn(a, TENANT, 'gus')).status === 'online' && (await presenceOn(a, TENANT, 'hal')).status === 'online');
    hal.on('disconnect', () => { void open(a, 'hal'); });
    gus.on('disconnect', () => undefined);
    const code = await stopNode(leaving);
    expect(code === 0 || code === 'SIGTERM').toBe(true);
    expect(await presenceOn(a, TENANT, 'gus')).toMatchObject({ status: 'offline', connections: 0 });
    await waitFor('hal back through a', async () => (await presenceOn(a, TENANT, 'hal')).connections === 1);
    await waitFor('gus announced offline', () => updates.some((u) => u.userId === 'gus' && u.status === 'offline'));
    expect(updates.filter((u) => u.userId === 'hal' && u.status === 'offline')).toEqual([]);
  });
});

describe('THREATS 32 — Redis unavailable', () => {
  it('new handshakes fail closed with SERVICE_UNAVAILABLE, no node crashes, and they recover when Redis returns', async () => {
    await redis.stop();
    try {
      for (const node of [a, b]) {
        const outcome = await attempt(node, 'during-outage');
        expect(outcome.connected).toBe(false);
        expect(outcome.error?.data?.code).toBe('SERVICE_UNAVAILABLE');
        expect((await httpJson('GET', `${node.url}/health`)).status).toBe(200);
      }
    } finally {
      await redis.restart();
    }
    expect([a.process.exitCode, b.process.exitCode]).toEqual([null, null]);
    await waitFor('handshakes admitted again', async () => {
      const outcome = await attempt(b, 'after-outage');
      outcome.socket.disconnect();
      return outcome.connected;
    }, 20_000, 250);
  }, 60_000);
});

describe('THREATS 33 — Redis flushed or restarted', () => {
  it('counters and presence are rebuilt from the live sockets; the ceiling still holds; no counter goes negative', async () => {
    const sockets = [await open(a, 'survivor'), await open(b, 'survivor'), await open(b, 'survivor', 'polling')];
    await redis.flushAll();
    for (const node of [a, b]) await waitFor(`survivor rebuilt on ${node.nodeId}`, async () => (await presenceOn(node, TENANT, 'survivor')).connections === 3, REAP_BOUND_MS, 100);
    expect((await attempt(a, 'survivor')).error?.data?.code).toBe('CONNECTION_LIMIT');
    for (const socket of sockets) socket.disconnect();
    await waitFor('survivor released', async () => (await presenceOn(a, TENANT, 'survivor')).connections === 0);
    expect((await presenceOn(b, TENANT, 'survivor')).connections).toBe(0);
    const again = await Promise.all(Array.from({ length: 6 }, () => attempt(a, 'survivor')));
    expect(again.filter((o) => o.connected)).toHaveLength(MAX);
  }, 60_000);
});

describe('THREATS 34 — revocation while a node\'s subscriber is reconnecting', () => {
  it('a ban issued on A while B reconnects to Redis still closes the user\'s socket on B within the bound', async () => {
    const victim = await open(b, 'revoked');
    const closed = new Promise<void>((resolve) => victim.once('disconnect', () => resolve()));
    await redis.stop();
    await redis.restart();
    await waitFor('ban accepted on A', async () => (await httpJson('POST', `${a.url}/moderation/users/revoked/ban`, moderator())).status === 200, 20_000, 200);
    const accepted = Date.now();
    await closed;
    expect(Date.now() - accepted).toBeLessThanOrEqual(REAP_BOUND_MS);
    // While B's client is still finding its way back (a restarted cluster re-learns its slots) a
    // handshake fails closed with SERVICE_UNAVAILABLE; once B answers, the answer is BANNED.
    let code: string | undefined;
    await waitFor('B answers the handshake', async () => {
      const outcome = await attempt(b, 'revoked');
      if (outcome.connected) outcome.socket.disconnect();
      code = outcome.connected ? 'CONNECTED' : outcome.error?.data?.code;
      return code !== 'SERVICE_UNAVAILABLE';
    }, 20_000, 250);
    expect(code).toBe('BANNED');
    expect((await httpJson('DELETE', `${a.url}/moderation/users/revoked/ban`, moderator())).status).toBe(200);
  }, 60_000);
});
