import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { closeAllClients, connected } from '../support/clients.js';
import { buildSampleIfStale, clusterToken, httpJson, killNode, startSampleNode, stopAll, type SampleNode } from '../support/cluster.js';
import { clientFor, keysMatching, startOwnRedis, type OwnRedis } from '../support/redis.js';
import { RedisKeys } from '../../lib/cluster/redis-keys.js';
import { waitFor } from '../support/wait.js';

/**
 * Room presence across three real sample processes on a Redis of this suite's own (it is
 * flushed): one answer on every node, `presence_diff` crossing nodes, a rebuild after FLUSHALL,
 * and a SIGKILLed node's members reaped within the same bound as user presence (measured).
 */
const run = randomBytes(3).toString('hex');
const TENANT = `rooms-${run}`;
const REAP_BOUND_MS = 10_000;
let redis: OwnRedis;
let nodes: SampleNode[] = [];

interface Diff { channelId: string; joins: string[]; leaves: string[] }
interface Member { userId: string; connections: number }

const open = (node: SampleNode, user: string) => connected(node.url, '/chat', { auth: { token: clusterToken(user, TENANT) } });

async function joinGeneral(socket: Socket): Promise<void> {
  expect(await socket.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
}

/** Members of #general as `GET /moderation/rooms/general/presence` answers on `node`. */
async function membersOn(node: SampleNode): Promise<string[]> {
  const { status, body } = await httpJson('GET', `${node.url}/moderation/rooms/general/presence`, clusterToken('moderator', TENANT, ['moderation:read']));
  if (status !== 200) throw new Error(`GET room presence answered ${status}`);
  return (body as { members: Member[] }).members.map((m) => `${m.userId}:${m.connections}`);
}

/** A member of #general that applies every diff it gets. */
async function watcher(node: SampleNode, name: string): Promise<{ socket: Socket; members: Set<string>; diffs: Diff[] }> {
  const socket = await open(node, name);
  const members = new Set<string>();
  const diffs: Diff[] = [];
  socket.on('presence_diff', (diff: Diff) => {
    diffs.push(diff);
    for (const id of diff.joins) members.add(id);
    for (const id of diff.leaves) members.delete(id);
  });
  await joinGeneral(socket);
  return { socket, members, diffs };
}

beforeAll(async () => {
  buildSampleIfStale();
  redis = await startOwnRedis();
  nodes = await Promise.all(['ra', 'rb', 'rc'].map((name) => startSampleNode({ redisUrl: redis.target, nodeId: `${name}-${run}`, env: { HANDSHAKE_RATE_PER_ADDRESS: '0', MAX_CONNECTIONS_PER_USER: '5' } })));
}, 90_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAll(nodes);
  await redis?.dispose();
});

describe('cluster room presence', () => {
  it('every node gives the same members, devices of all nodes together; presence_diff crosses nodes', async () => {
    const [a, b, c] = nodes as [SampleNode, SampleNode, SampleNode];
    const seer = await watcher(c, 'seer');
    const x1 = await open(a, 'xavier');
    const x2 = await open(b, 'xavier');
    await joinGeneral(x1);
    await joinGeneral(x2);
    await joinGeneral(await open(b, 'yolanda'));
    for (const node of nodes) expect(await membersOn(node)).toEqual(['seer:1', 'xavier:2', 'yolanda:1']);
    await waitFor('a watcher on a third node sees both', () => seer.members.has('xavier') && seer.members.has('yolanda'), 10_000);
    x1.disconnect();
    await waitFor('xavier down to one device everywhere', async () => (await Promise.all(nodes.map(membersOn))).every((m) => m.includes('xavier:1')), 10_000);
    x2.disconnect();
    await waitFor('the watcher sees xavier leave', () => !seer.members.has('xavier'), 10_000);
    for (const node of nodes) expect(await membersOn(node)).toEqual(['seer:1', 'yolanda:1']);
  });

  it('Redis flushed: room presence is rebuilt from the live sockets, without a leave/join storm', async () => {
    const [a, b] = nodes as [SampleNode, SampleNode, SampleNode];
    const seer = await watcher(a, 'seer');
    await joinGeneral(await open(a, 'fay'));
    await joinGeneral(await open(b, 'fay'));
    await joinGeneral(await open(b, 'gus'));
    await waitFor('all in', async () => (await membersOn(a)).join() === 'fay:2,gus:1,seer:1', 10_000);
    await waitFor('the watcher has them', () => seer.members.has('fay') && seer.members.has('gus'), 10_000);
    const diffsBefore = seer.diffs.length;
    const client = clientFor(redis.target);
    try {
      await redis.flushAll();
      const flushedAt = Date.now();
      await waitFor('room presence rebuilt', async () => (await membersOn(b)).join() === 'fay:2,gus:1,seer:1', 10_000, 50);
      console.log(`[measure] FLUSHALL → room presence rebuilt from the live sockets in ${Date.now() - flushedAt} ms`);
      expect(await client.zrange(new RedisKeys('rts:').userRooms(`${encodeURIComponent(TENANT)}/fay`), '0', '-1')).toEqual(['channel:general']);
    } finally {
      client.disconnect();
    }
    // Nobody left or came: the rebuild announced nothing to the room.
    expect(seer.diffs.slice(diffsBefore).flatMap((d) => d.leaves)).toEqual([]);
  });

  it('a member node killed with SIGKILL: its members leave the room on every node within the bound (measured)', async () => {
    const [a, b, doomed] = nodes as [SampleNode, SampleNode, SampleNode];
    const seer = await watcher(a, 'seer');
    // kim: only on the doomed node. lee: there and on a survivor.
    await joinGeneral(await open(doomed, 'kim'));
    await joinGeneral(await open(doomed, 'kim'));
    await joinGeneral(await open(doomed, 'lee'));
    await joinGeneral(await open(b, 'lee'));
    await waitFor('everyone in', async () => (await membersOn(b)).join() === 'kim:2,lee:2,seer:1', 10_000);
    await waitFor('the watcher sees them', () => seer.members.has('kim') && seer.members.has('lee'), 10_000);
    const killedAt = Date.now();
    await killNode(doomed);
    await waitFor('kim reaped from the room', async () => !(await membersOn(b)).some((m) => m.startsWith('kim:')), REAP_BOUND_MS + 5000, 50);
    const reapedMs = Date.now() - killedAt;
    console.log(`[measure] SIGKILL → members out of the room on the other nodes: ${reapedMs} ms (bound ${REAP_BOUND_MS} ms)`);
    expect(reapedMs).toBeLessThanOrEqual(REAP_BOUND_MS);
    expect(await membersOn(a)).toEqual(['lee:1', 'seer:1']);
    await waitFor('the watcher on a survivor sees kim leave', () => !seer.members.has('kim'), 10_000);
    expect(seer.members.has('lee')).toBe(true);
    const client = clientFor(redis.target);
    try {
      // Its membership index is gone (node ids get a random suffix: match the name).
      expect((await keysMatching(client, 'rts:node-rooms:*')).filter((key) => key.includes(doomed.nodeId))).toEqual([]);
      expect(await client.zrange(new RedisKeys('rts:').userRooms(`${encodeURIComponent(TENANT)}/kim`), '0', '-1')).toEqual([]);
    } finally {
      client.disconnect();
    }
  });
});
