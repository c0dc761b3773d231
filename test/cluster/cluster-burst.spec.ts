import { randomBytes } from 'node:crypto';
import type { Socket } from 'socket.io-client';
import { closeAllClients, connected } from '../support/clients.js';
import { buildSampleIfStale, clusterToken, startSampleNode, stopAll, type SampleNode } from '../support/cluster.js';
import { releaseTestRedis, testRedisUrl } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS 40 on two sample processes sharing the Redis throttler storage (the sample's defaults:
 * 100 messages per user per 10 s, 5 strikes, 2 s grace): a burst of 10 x the limit from one user,
 * spread over both nodes and sent at once, is answered in full, handled exactly to the budget,
 * and leaves every socket connected; a client that keeps sending is still disconnected.
 */
const run = randomBytes(3).toString('hex');
const TENANT = `burst-${run}`;
const LIMIT = 100;
let nodes: SampleNode[] = [];

type Ack = { ok?: boolean; error?: { code: string; retryAfterMs?: number } };

beforeAll(async () => {
  buildSampleIfStale();
  const redisUrl = await testRedisUrl();
  nodes = await Promise.all([0, 1].map((i) => startSampleNode({
    redisUrl,
    nodeId: `burst-${i}-${run}`,
    env: { HANDSHAKE_RATE_PER_ADDRESS: '0', MAX_CONNECTIONS_PER_USER: '5' },
  })));
}, 90_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAll(nodes);
  await releaseTestRedis();
});

let users = 0;
const token = () => clusterToken(`user-${++users}`, TENANT);

/** One observer per node, in `general`: each sees every message really handled, on either node. */
async function observers(): Promise<{ seen: () => number[] }> {
  const seen = nodes.map(() => 0);
  for (const [i, node] of nodes.entries()) {
    const observer = await connected(node.url, '/chat', { transports: ['websocket'], auth: { token: token() } });
    expect(await observer.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    observer.on('message', () => { seen[i] = (seen[i] ?? 0) + 1; });
  }
  return { seen: () => [...seen] };
}

async function joined(node: SampleNode, t: string): Promise<Socket> {
  const socket = await connected(node.url, '/chat', { transports: ['websocket'], auth: { token: t } });
  expect(await socket.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
  return socket;
}

function burst(socket: Socket, n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => (socket.timeout(30_000).emitWithAck('message:send', { channelId: 'general', text: `m${i}` }) as Promise<Ack>).then(
    (ack) => (ack.ok === true ? 'ok' : ack.error?.code === 'RATE_LIMITED' && (ack.error.retryAfterMs ?? 0) >= 1000 ? 'RATE_LIMITED' : JSON.stringify(ack)),
    () => 'lost',
  )));
}

const tally = (outcomes: string[]) => outcomes.reduce<Record<string, number>>((t, o) => ({ ...t, [o]: (t[o] ?? 0) + 1 }), {});

describe('cluster: bursts over two nodes with the Redis throttler storage (THREATS 40)', () => {
  it('10 x the limit from one user on four sockets over two nodes, at once: exactly the budget handled, every ack answered, all connected', async () => {
    const { seen } = await observers();
    const t = token();
    const sockets = [await joined(nodes[0]!, t), await joined(nodes[1]!, t), await joined(nodes[0]!, t), await joined(nodes[1]!, t)];
    // 4 joins + 996 messages = 10 x the limit.
    const outcomes = (await Promise.all(sockets.map((socket) => burst(socket, 249)))).flat();
    expect(tally(outcomes)).toEqual({ ok: LIMIT - 4, RATE_LIMITED: 996 - (LIMIT - 4) });
    await waitFor(`${LIMIT - 4} messages broadcast on both nodes`, () => seen().every((n) => n >= LIMIT - 4), 15_000);
    expect(seen()).toEqual([LIMIT - 4, LIMIT - 4]);
    for (const socket of sockets) expect(socket.connected).toBe(true);
  }, 90_000);

  it('a client that keeps sending after it was told is disconnected on its node; its acks all answered', async () => {
    const t = token();
    const flooder = await joined(nodes[1]!, t);
    expect(tally(await burst(flooder, 2 * LIMIT))).toEqual({ ok: LIMIT - 1, RATE_LIMITED: LIMIT + 1 });
    const gone = new Promise<string>((resolve) => flooder.once('disconnect', resolve));
    const answers: string[] = [];
    const started = Date.now();
    while (flooder.connected && Date.now() - started < 30_000) answers.push(...(await burst(flooder, 1)));
    expect(await gone).toBe('io server disconnect');
    expect(answers.slice(0, -1).every((a) => a === 'RATE_LIMITED')).toBe(true);
  }, 90_000);
});
