import { randomBytes } from 'node:crypto';
import { closeAllClients, connect, connected } from '../support/clients.js';
import { buildSampleIfStale, clusterToken, httpJson, presenceOn, startSampleNode, stopAll, type SampleNode } from '../support/cluster.js';
import { releaseTestRedis, testRedisUrl } from '../support/redis.js';
import { closeAllStreams, openStream } from '../support/sse.js';
import { waitFor } from '../support/wait.js';

/**
 * Server-Sent Events in cluster mode, on two real sample processes sharing one Redis: one
 * ceiling for sockets and streams of all nodes, presence from streams everywhere, a ban on one
 * node ends streams on the other, and a ticket minted on one node opens a stream on the other.
 */
const run = randomBytes(3).toString('hex');
const TENANT = `sse-${run}`;
const MAX = 3;
const READER = ['channel:*', 'presence:read', 'notifications:read'];
let nodes: SampleNode[] = [];

beforeAll(async () => {
  buildSampleIfStale();
  const redisUrl = await testRedisUrl();
  nodes = await Promise.all([0, 1].map((i) => startSampleNode({
    redisUrl,
    nodeId: `sse-${i}-${run}`,
    env: { MAX_CONNECTIONS_PER_USER: String(MAX), HANDSHAKE_RATE_PER_ADDRESS: '0' },
  })));
}, 120_000);
afterEach(async () => {
  await closeAllStreams();
  closeAllClients();
});
afterAll(async () => {
  await stopAll(nodes);
  await releaseTestRedis();
});

const token = (user: string, perms = READER) => clusterToken(user, TENANT, perms);
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const [a, b] = [0, 1].map((i) => () => nodes[i] as SampleNode);

describe('cluster: Server-Sent Events (THREATS 38)', () => {
  it('one ceiling across nodes and transports: a socket on A, a stream on A, a stream on B = 3 of 3; the 4th is refused on either', async () => {
    const user = 'shared';
    await connected(a().url, '/chat', { auth: { token: token(user) } });
    const onA = await openStream(`${a().url}/chat/notifications`, bearer(token(user)));
    const onB = await openStream(`${b().url}/chat/notifications`, bearer(token(user)));
    expect([onA.status, onB.status]).toEqual([200, 200]);
    await waitFor('3 connections seen from B', async () => (await presenceOn(b(), TENANT, user)).connections === MAX, 10_000);
    const fourthStream = await openStream(`${b().url}/chat/notifications`, bearer(token(user)));
    expect(fourthStream.status).toBe(429);
    expect(fourthStream.body).toEqual({ error: { code: 'CONNECTION_LIMIT', message: expect.any(String) } });
    const fourthSocket = await connect(a().url, '/chat', { auth: { token: token(user) } });
    expect(fourthSocket.error?.data?.code).toBe('CONNECTION_LIMIT');
    onB.abort();
    await waitFor('B\'s stream slot released', async () => {
      const outcome = await connect(a().url, '/chat', { auth: { token: token(user) } });
      if (!outcome.connected) outcome.socket.disconnect();
      return outcome.connected;
    }, 10_000, 50);
  });

  it('a ban issued on A ends the user\'s stream on B with BANNED (measured), and B refuses a new one', async () => {
    const user = 'banned-streamer';
    const stream = await openStream(`${b().url}/chat/notifications`, bearer(token(user)));
    expect(stream.status).toBe(200);
    await waitFor('online on A', async () => (await presenceOn(a(), TENANT, user)).status === 'online', 10_000);
    const mod = clusterToken('mod', TENANT, ['moderation:*']);
    const started = Date.now();
    expect((await httpJson('POST', `${a().url}/moderation/users/${user}/ban`, mod)).status).toBe(200);
    const error = await stream.next('error', 10_000);
    const tookMs = Date.now() - started;
    expect(JSON.parse(error.data)).toEqual({ code: 'BANNED' });
    expect(tookMs).toBeLessThan(5000);
    await stream.ended;
    const again = await openStream(`${b().url}/chat/notifications`, bearer(token(user)));
    expect(again.status).toBe(403);
    expect((again.body as { error: { code: string } }).error.code).toBe('BANNED');
    await waitFor('offline everywhere', async () => (await presenceOn(a(), TENANT, user)).status === 'offline', 10_000);
    await httpJson('DELETE', `${a().url}/moderation/users/${user}/ban`, mod);
  });

  it('a ticket minted on A opens one stream on B, once', async () => {
    const user = 'ticket-user';
    const minted = await httpJson('POST', `${a().url}/chat/stream-ticket`, token(user));
    expect(minted.status).toBe(200);
    const { ticket } = minted.body as { ticket: string };
    expect((await openStream(`${b().url}/chat/notifications?ticket=${ticket}`)).status).toBe(200);
    expect((await openStream(`${a().url}/chat/notifications?ticket=${ticket}`)).status).toBe(401);
  });

  it('a mention sent on A reaches the mentioned user\'s stream on B; never another tenant\'s user of the same id', async () => {
    const stream = await openStream(`${b().url}/chat/notifications`, bearer(token('bob')));
    const otherTenant = await openStream(`${b().url}/chat/notifications`, bearer(clusterToken('bob', `${TENANT}-other`, READER)));
    expect([stream.status, otherTenant.status]).toEqual([200, 200]);
    const sender = await connected(a().url, '/chat', { auth: { token: token('alice') } });
    expect(await sender.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    expect(await sender.emitWithAck('message:send', { channelId: 'general', text: 'hi @bob' })).toMatchObject({ ok: true });
    const mention = await stream.next('mention', 10_000);
    expect(JSON.parse(mention.data)).toEqual({ channelId: 'general', from: 'alice', text: 'hi @bob' });
    expect(otherTenant.events.filter((e) => e.type === 'mention')).toHaveLength(0);
  });
});
