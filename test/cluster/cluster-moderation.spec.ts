import { randomBytes } from 'node:crypto';
import { closeAllClients, connect, connected, nextEvent } from '../support/clients.js';
import { buildSampleIfStale, clusterToken, httpJson, presenceOn, startSampleNode, stopAll, type SampleNode } from '../support/cluster.js';
import { releaseTestRedis, testRedis } from '../support/redis.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS.md case 5 in cluster mode, on two real sample processes: a ban or a disconnect asked
 * on node A closes the user's sockets on node B (time measured), and every node refuses the
 * user's handshakes from Redis until the ban is lifted.
 */
const run = randomBytes(3).toString('hex');
const TENANT = `moderation-${run}`;
const ROUNDS = 10;
let nodes: SampleNode[] = [];
const moderator = () => clusterToken('mod', TENANT, ['moderation:read', 'moderation:write']);
const userToken = (user: string) => clusterToken(user, TENANT, ['channel:*']);

beforeAll(async () => {
  buildSampleIfStale();
  const redisUrl = await testRedis();
  nodes = await Promise.all(['ma', 'mb'].map((name) => startSampleNode({ redisUrl, nodeId: `${name}-${run}`, env: { HANDSHAKE_RATE_PER_ADDRESS: '0' } })));
}, 90_000);
afterEach(() => closeAllClients());
afterAll(async () => {
  await stopAll(nodes);
  await releaseTestRedis();
});

describe('cluster moderation', () => {
  it('a ban on node A closes the user\'s sockets on node B (measured) and every node refuses them until unbanned', async () => {
    const [a, b] = nodes as [SampleNode, SampleNode];
    const timings: number[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const user = `banned-${round}`;
      const onB = await connected(b.url, '/chat', { auth: { token: userToken(user) } });
      const onA = await connected(a.url, '/chat', { auth: { token: userToken(user) } });
      const closedOnB = Promise.all([nextEvent(onB, 'exception'), nextEvent(onB, 'disconnect')]).then(([exception]) => ({ exception, at: Date.now() }));
      const closedOnA = nextEvent(onA, 'disconnect');
      const bannedAt = Date.now();
      const response = await httpJson('POST', `${a.url}/moderation/users/${user}/ban`, moderator());
      expect(response.status).toBe(200);
      const { exception, at } = await closedOnB;
      await closedOnA;
      expect(exception).toEqual({ error: { code: 'BANNED', message: expect.any(String) } });
      timings.push(at - bannedAt);
      for (const node of nodes) {
        const refused = await connect(node.url, '/chat', { auth: { token: userToken(user) } });
        expect(refused.error?.data?.code).toBe('BANNED');
      }
    }
    timings.sort((x, y) => x - y);
    console.log(`[measure] ban on node A → socket closed on node B, ${ROUNDS} rounds (ms, including the HTTP call): median ${timings[Math.floor(ROUNDS / 2)]}, max ${timings[ROUNDS - 1]}`);
    // Unbanned on B: A accepts the user again.
    expect((await httpJson('DELETE', `${b.url}/moderation/users/banned-0/ban`, moderator())).status).toBe(200);
    await connected(a.url, '/chat', { auth: { token: userToken('banned-0') } });
  });

  it('a disconnect on node B closes every socket of the user on both nodes, and they may come back', async () => {
    const [a, b] = nodes as [SampleNode, SampleNode];
    const sockets = [await connected(a.url, '/chat', { auth: { token: userToken('kicked') } }), await connected(a.url, '/chat', { auth: { token: userToken('kicked') } }), await connected(b.url, '/chat', { auth: { token: userToken('kicked') } })];
    const closed = Promise.all(sockets.map((s) => nextEvent(s, 'disconnect')));
    expect((await httpJson('POST', `${b.url}/moderation/users/kicked/disconnect`, moderator())).status).toBe(200);
    await closed;
    await waitFor('kicked offline everywhere', async () => (await presenceOn(a, TENANT, 'kicked')).connections === 0);
    await connected(b.url, '/chat', { auth: { token: userToken('kicked') } });
  });

  it('a ban with an end expires on every node by itself', async () => {
    const [a, b] = nodes as [SampleNode, SampleNode];
    expect((await httpJson('POST', `${a.url}/moderation/users/brief/ban`, moderator(), { until: Date.now() + 1500 })).status).toBe(200);
    expect((await connect(b.url, '/chat', { auth: { token: userToken('brief') } })).error?.data?.code).toBe('BANNED');
    await waitFor('the ban expires on node B', async () => {
      const outcome = await connect(b.url, '/chat', { auth: { token: userToken('brief') } });
      outcome.socket.disconnect();
      return outcome.connected;
    }, 5000, 100);
  });
});
