import { WebSocketGateway } from '@nestjs/websockets';
import { Manager } from 'socket.io-client';
import { InMemoryConnectionLeaseStore, userKey } from '../../lib/index.js';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected, nextEvent, TRANSPORTS } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const RootGateway = pingGateway();
const ChatGateway = pingGateway('/chat');

@WebSocketGateway({ namespace: '/feed' })
class FeedGateway {}

const token = (sub: string) => signToken({ sub, tenant: 'acme' });
const key = (sub: string) => userKey('acme', sub);

/**
 * The lifecycle keeps a lone lease per connection, a lone session per user and a lone lease id
 * per user as themselves (no Set or Map per connection in the usual case) and switches to a
 * collection past one: these are the cases past one, and the way back.
 */
describe('connection indexes past one entry', () => {
  let t: TestApp;
  const store = new InMemoryConnectionLeaseStore();
  let lifecycle: ConnectionLifecycle;

  beforeAll(async () => {
    t = await startApp({ gateways: [RootGateway, ChatGateway, FeedGateway], security: { connections: { maxPerUser: 3, store } } });
    lifecycle = t.app.get(ConnectionLifecycle);
  });
  const managers: Manager[] = [];
  afterEach(async () => {
    closeAllClients();
    for (const manager of managers.splice(0)) manager.engine?.close();
    await waitFor('every slot released', () => lifecycle.connectionCount === 0 && store.userCount === 0);
    expect(lifecycle.stats).toEqual({ leases: 0, sessions: 0, users: 0, tenants: 0, expiryTimers: 0 });
  });
  afterAll(async () => { await t.close(); });

  it.each(TRANSPORTS)('three users multiplexed over one connection hold one slot each, released one by one (%s)', async (transport) => {
    const manager = new Manager(t.url, { forceNew: true, reconnection: false, transports: [transport] });
    managers.push(manager);
    const root = manager.socket('/', { auth: { token: token('ann') } });
    const chat = manager.socket('/chat', { auth: { token: token('ben') } });
    const feed = manager.socket('/feed', { auth: { token: token('cy') } });
    await Promise.all([nextEvent(root, 'connect'), nextEvent(chat, 'connect'), nextEvent(feed, 'connect')]);
    expect(lifecycle.stats).toMatchObject({ leases: 3, sessions: 3, users: 3, tenants: 1 });
    for (const sub of ['ann', 'ben', 'cy']) {
      expect(await store.count(key(sub))).toBe(1);
      expect(lifecycle.sessionsOf(key(sub))).toHaveLength(1);
    }
    expect(await chat.emitWithAck('ping', {})).toEqual({ ok: true });
    chat.disconnect();
    await waitFor('ben released', async () => (await store.count(key('ben'))) === 0);
    expect(lifecycle.stats).toMatchObject({ leases: 2, sessions: 2, users: 2 });
    expect(await store.count(key('ann'))).toBe(1);
    expect(await root.emitWithAck('ping', {})).toEqual({ ok: true });
    feed.disconnect();
    await waitFor('cy released', async () => (await store.count(key('cy'))) === 0);
    expect(lifecycle.stats).toMatchObject({ leases: 1, sessions: 1, users: 1 });
    root.disconnect();
    await waitFor('ann released', async () => (await store.count(key('ann'))) === 0);
  });

  it('one user on three connections: three sessions and three lease ids, the ceiling holds, and they go one by one', async () => {
    const sockets = [await connected(t.url, '/chat', { auth: { token: token('dee') } }), await connected(t.url, '/chat', { auth: { token: token('dee') } }), await connected(t.url, '/', { auth: { token: token('dee') } })];
    expect(await store.count(key('dee'))).toBe(3);
    expect(lifecycle.sessionsOf(key('dee'))).toHaveLength(3);
    expect(lifecycle.allSessions()).toHaveLength(3);
    expect(lifecycle.stats).toMatchObject({ leases: 3, sessions: 3, users: 1 });
    // The fourth is refused: the store counts lease ids past one correctly.
    expect(await store.acquire(key('dee'), 'another', 3)).toBe(false);
    sockets[0]?.disconnect();
    await waitFor('one session gone', () => lifecycle.sessionsOf(key('dee')).length === 2);
    expect(await store.count(key('dee'))).toBe(2);
    sockets[1]?.disconnect();
    await waitFor('two sessions gone', () => lifecycle.sessionsOf(key('dee')).length === 1);
    expect(await store.count(key('dee'))).toBe(1);
    expect(lifecycle.allSessions()).toHaveLength(1);
    expect(await sockets[2]?.emitWithAck('ping', {})).toEqual({ ok: true });
  });
});
