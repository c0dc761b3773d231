import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { closeAllClients, connect, connected } from '../support/clients.js';
import {
  buildSampleIfStale, clusterToken, httpJson, killNode, presenceOn, startSampleNode, stopAll, stopNode, type SampleNode,
} from '../support/cluster.js';
import { releaseTestRedis, testRedis, type TestRedis } from '../support/redis.js';
import { waitFor } from '../support/wait.js';
import { RedisKeys } from '../../lib/cluster/redis-keys.js';

/** The sample's keys (default prefix). */
const keys = new RedisKeys('rts:');

/**
 * Presence across real sample processes on one Redis: the same answer from every node,
 * `presence_update` crossing nodes, a SIGKILLed node reaped within the bound (THREATS 30,
 * measured), a graceful shutdown cleaned at once without an offline storm (THREATS 31).
 */
const run = randomBytes(3).toString('hex');
const TENANT = `presence-${run}`;
const MAX = 3;
/** What the README promises with the default heartbeat (1 s) and node timeout (5 s). */
const REAP_BOUND_MS = 10_000;
let redisUrl: TestRedis;
let nodes: SampleNode[] = [];
const extra: SampleNode[] = [];

interface Update { userId: string; status: 'online' | 'offline'; lastSeen?: number }

function start(name: string): Promise<SampleNode> {
  return startSampleNode({ redisUrl, nodeId: `${name}-${run}`, env: { MAX_CONNECTIONS_PER_USER: String(MAX), HANDSHAKE_RATE_PER_ADDRESS: '0' } });
}

/** A `/chat` socket holding `presence:read` that records every `presence_update` it gets. */
async function viewer(node: SampleNode, name: string): Promise<{ socket: Socket; updates: Update[] }> {
  const socket = await connected(node.url, '/chat', { auth: { token: clusterToken(name, TENANT) } });
  const updates: Update[] = [];
  socket.on('presence_update', (update: Update) => updates.push(update));
  return { socket, updates };
}

const open = (node: SampleNode, user: string) => connected(node.url, '/chat', { auth: { token: clusterToken(user, TENANT, ['channel:*']) } });

beforeAll(async () => {
  buildSampleIfStale();
  redisUrl = await testRedis();
  nodes = await Promise.all(['pa', 'pb', 'pc'].map(start));
}, 90_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAll([...nodes, ...extra]);
  await releaseTestRedis();
});

describe('cluster presence', () => {
  it('every node gives the same answer: connections of all nodes together, one online list', async () => {
    const [a, b, c] = nodes as [SampleNode, SampleNode, SampleNode];
    const x = [await open(a, 'xavier'), await open(b, 'xavier'), await open(c, 'xavier')];
    await open(a, 'yolanda');
    for (const node of nodes) {
      expect(await presenceOn(node, TENANT, 'xavier')).toMatchObject({ status: 'online', connections: 3, lastSeen: null });
      const { body } = await httpJson('GET', `${node.url}/moderation/presence`, clusterToken('moderator', TENANT, ['moderation:read']));
      const users = (body as { users: { userId: string; connections: number }[] }).users;
      expect(users.map((u) => `${u.userId}:${u.connections}`).sort()).toEqual(['xavier:3', 'yolanda:1']);
    }
    x[1]!.disconnect();
    for (const node of nodes) await waitFor('xavier down to 2 connections everywhere', async () => (await presenceOn(node, TENANT, 'xavier')).connections === 2);
  });

  it('presence_update reaches viewers on other nodes, online at once and offline after the flap window', async () => {
    const [a, , c] = nodes as [SampleNode, SampleNode, SampleNode];
    const watcher = await viewer(c, 'watcher');
    const zoe = await open(a, 'zoe');
    await waitFor('online update on another node', () => watcher.updates.some((u) => u.userId === 'zoe' && u.status === 'online'));
    const closedAt = Date.now();
    zoe.disconnect();
    await waitFor('offline update on another node', () => watcher.updates.some((u) => u.userId === 'zoe' && u.status === 'offline'), 6000);
    const offline = watcher.updates.find((u) => u.userId === 'zoe' && u.status === 'offline') as Update;
    expect(offline.lastSeen).toBeGreaterThanOrEqual(closedAt - 50);
    expect(watcher.updates.filter((u) => u.userId === 'zoe').map((u) => u.status)).toEqual(['online', 'offline']);
  });

  it('a node killed with SIGKILL is reaped within the bound: its users go offline everywhere, with lastSeen, and their slots are freed (THREATS 30)', async () => {
    const doomed = await start('doomed');
    extra.push(doomed);
    const [a, b] = nodes as [SampleNode, SampleNode, SampleNode];
    const watcher = await viewer(a, 'watcher-kill');
    // kim: two sockets, both on the doomed node. lee: one there, one on a survivor.
    await open(doomed, 'kim');
    await open(doomed, 'kim');
    await open(doomed, 'lee');
    await open(b, 'lee');
    await waitFor('kim online everywhere', async () => (await presenceOn(b, TENANT, 'kim')).connections === 2);
    // While the node is dead but not yet reaped, kim's two slots are still held.
    const killedAt = Date.now();
    await killNode(doomed);
    const beforeReap = await Promise.all([connect(b.url, '/chat', { auth: { token: clusterToken('kim', TENANT, ['channel:*']) } }), connect(b.url, '/chat', { auth: { token: clusterToken('kim', TENANT, ['channel:*']) } })]);
    expect(beforeReap.filter((o) => o.connected)).toHaveLength(1);
    for (const o of beforeReap) o.socket.disconnect();
    await waitFor('kim reaped', async () => (await presenceOn(b, TENANT, 'kim')).status === 'offline', REAP_BOUND_MS + 2000, 50).catch((e) => {
      for (const n of [doomed, ...nodes]) console.log(n.nodeId, n.output.filter((l) => /cluster|redis|ERROR|WARN/.test(l)).join('\n'));
      throw e;
    });
    const reapedMs = Date.now() - killedAt;
    console.log(`[measure] SIGKILL → users offline on the other nodes: ${reapedMs} ms (bound ${REAP_BOUND_MS} ms)`);
    expect(reapedMs).toBeLessThanOrEqual(REAP_BOUND_MS);
    const kim = await presenceOn(a, TENANT, 'kim');
    expect(kim).toMatchObject({ status: 'offline', connections: 0 });
    // lastSeen is the dead node's last heartbeat: at most one beat (1 s) before the kill.
    expect(kim.lastSeen).toBeLessThanOrEqual(killedAt + 50);
    expect(kim.lastSeen).toBeGreaterThanOrEqual(killedAt - 1500);
    expect(await presenceOn(a, TENANT, 'lee')).toMatchObject({ status: 'online', connections: 1 });
    await waitFor('offline update for kim on a survivor', () => watcher.updates.some((u) => u.userId === 'kim' && u.status === 'offline'));
    expect(watcher.updates.some((u) => u.userId === 'lee' && u.status === 'offline')).toBe(false);
    // Every slot of the dead node is free again: kim gets the whole ceiling, lee all but one.
    const kimAgain = await Promise.all(Array.from({ length: 6 }, () => connect(b.url, '/chat', { auth: { token: clusterToken('kim', TENANT, ['channel:*']) } })));
    expect(kimAgain.filter((o) => o.connected)).toHaveLength(MAX);
    const leeAgain = await Promise.all(Array.from({ length: 6 }, () => connect(a.url, '/chat', { auth: { token: clusterToken('lee', TENANT, ['channel:*']) } })));
    expect(leeAgain.filter((o) => o.connected)).toHaveLength(MAX - 1);
    // The dead node is forgotten.
    const redis = redisUrl.client();
    try {
      expect(await redis.hexists(keys.nodes(), 'doomed')).toBe(0);
      const registered = Object.keys(await redis.hgetall(keys.nodes()));
      expect(registered.some((id) => id.startsWith(`doomed-${run}:`))).toBe(false);
    } finally {
      await redis.quit();
    }
  });

  it('a graceful shutdown (SIGTERM) cleans presence and slots at once; a user reconnecting elsewhere is never announced offline (THREATS 31)', async () => {
    const leaving = await start('leaving');
    extra.push(leaving);
    const [a] = nodes as [SampleNode, SampleNode, SampleNode];
    const watcher = await viewer(a, 'watcher-term');
    const gus = await open(leaving, 'gus');
    const hal = await open(leaving, 'hal');
    await waitFor('both online on a', async () => (await presenceOn(a, TENANT, 'hal')).status === 'online' && (await presenceOn(a, TENANT, 'gus')).status === 'online');
    // hal reconnects to a survivor as soon as his node goes; gus just leaves.
    hal.on('disconnect', () => { void open(a, 'hal'); });
    gus.on('disconnect', () => undefined);
    const code = await stopNode(leaving);
    expect(code === 0 || code === 'SIGTERM').toBe(true);
    // Exited: everything of that node is already gone, without waiting for any timeout.
    expect(await presenceOn(a, TENANT, 'gus')).toMatchObject({ status: 'offline', connections: 0 });
    const all = await Promise.all(Array.from({ length: 6 }, () => connect(a.url, '/chat', { auth: { token: clusterToken('gus', TENANT, ['channel:*']) } })));
    expect(all.filter((o) => o.connected)).toHaveLength(MAX);
    await waitFor('hal online through a survivor', async () => (await presenceOn(a, TENANT, 'hal')).connections === 1);
    await waitFor('gus announced offline on a survivor', () => watcher.updates.some((u) => u.userId === 'gus' && u.status === 'offline'));
    // The node announced what it had to before exiting: the stream holds no offline for hal.
    const redis = redisUrl.client();
    try {
      const entries = (await redis.xrange(keys.bus('presence'), '-', '+')) as [string, string[]][];
      const about = (user: string, type: string) => entries.some(([, fields]) => {
        const data = fields[fields.indexOf('d') + 1] ?? '{}';
        const change = JSON.parse(data) as { tenantId?: string; userId?: string; type?: string };
        return change.tenantId === TENANT && change.userId === user && change.type === type;
      });
      expect(about('gus', 'offline')).toBe(true);
      expect(about('hal', 'offline')).toBe(false);
    } finally {
      await redis.quit();
    }
    expect(watcher.updates.some((u) => u.userId === 'hal' && u.status === 'offline')).toBe(false);
  });
});
