import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Manager } from 'socket.io-client';
import type { Socket } from 'socket.io';
import WebSocket from 'ws';
import {
  InvalidPresenceQueryError,
  PresenceService,
  WsPublic,
  type PresenceChange,
  type PresenceRecord,
} from '../../lib/index.js';
import { sessionOf } from '../../lib/connections/connection-session.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected, nextEvent } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/** Server code an app might write: a user sets their own voluntary status, after the app's own checks. */
@WebSocketGateway({ namespace: '/chat' })
class ChatGateway {
  constructor(private readonly presence: PresenceService) {}

  @WsPublic()
  @SubscribeMessage('ping')
  ping() {
    return { ok: true };
  }

  @WsPublic()
  @SubscribeMessage('set_status')
  async setStatus(@ConnectedSocket() socket: Socket, @MessageBody() body: unknown) {
    const principal = sessionOf(socket)?.principal;
    const preference = (body as { preference?: unknown } | null)?.preference;
    if (principal === undefined || (preference !== 'dnd' && preference !== 'away' && preference !== null)) return { ok: false };
    await this.presence.setPreference(principal.tenantId, principal.userId, preference);
    return { ok: true };
  }
}

const RootGateway = pingGateway();

const token = (sub: string, tenant = 'acme', perms: string[] = ['presence:read']) => signToken({ sub, tenant, perms });

describe('presence: options', () => {
  const base = { jwt: { secret: TEST_SECRET } };
  it('has safe defaults: damping 2 s, no broadcast, presence:read', () => {
    const { presence } = resolveOptions(base);
    expect(presence.flapWindowMs).toBe(2000);
    expect(presence.broadcast.namespaces.size).toBe(0);
    expect(presence.broadcast.event).toBe('presence_update');
    expect(presence.broadcast.permission).toBe('presence:read');
  });

  it.each([
    [{ flapWindowMs: -1 }, /presence\.flapWindowMs/],
    [{ flapWindowMs: 60_001 }, /presence\.flapWindowMs/],
    [{ broadcast: { namespaces: ['chat'] } }, /presence\.broadcast\.namespaces/],
    [{ broadcast: { namespaces: '/chat' } }, /presence\.broadcast\.namespaces/],
    [{ broadcast: { event: 'disconnect' } }, /presence\.broadcast\.event/],
    [{ broadcast: { event: 'a b' } }, /presence\.broadcast\.event/],
    [{ broadcast: { permission: 'presence:*' } }, /presence\.broadcast\.permission/],
    [{ broadcast: { permission: '' } }, /presence\.broadcast\.permission/],
    [{ broadcast: { audience: 'everyone' } }, /presence\.broadcast\.audience/],
    [{ store: { get: () => null } }, /presence\.store.*missing connectionOpened/],
  ])('refuses presence options %#: %j at start-up, naming the option', (presence, message) => {
    expect(() => resolveOptions({ ...base, presence } as never)).toThrow(message);
  });
});

describe('presence: server-computed from connections', () => {
  let t: TestApp;
  let presence: PresenceService;
  const changes: PresenceChange[] = [];

  beforeAll(async () => {
    t = await startApp({ gateways: [ChatGateway, RootGateway], security: { presence: { flapWindowMs: 0 } } });
    presence = t.app.get(PresenceService);
    presence.changes$.subscribe((c) => changes.push(c));
  });
  afterEach(async () => {
    closeAllClients();
    await waitFor('everyone offline', async () => (await presence.countOnline('acme')) === 0 && (await presence.countOnline('big')) === 0);
    changes.length = 0;
  });
  afterAll(async () => { await t.close(); });

  const connectionsOf = async (userId: string, tenant = 'acme') => (await presence.get(tenant, userId)).connections;

  it('multi-device: two sockets, close one: still online; close both: offline with lastSeen', async () => {
    const before = Date.now();
    const phone = await connected(t.url, '/chat', { transports: ['polling'], auth: { token: token('alice') } });
    const laptop = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: token('alice') } });
    await waitFor('two connections', async () => (await connectionsOf('alice')) === 2);
    const online = await presence.get('acme', 'alice');
    expect(online).toMatchObject({ userId: 'alice', tenantId: 'acme', status: 'online', connections: 2, lastSeen: null, preference: null });
    expect(online.since).toBeGreaterThanOrEqual(before);
    expect(await presence.isOnline('acme', 'alice')).toBe(true);

    phone.disconnect();
    await waitFor('one connection', async () => (await connectionsOf('alice')) === 1);
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'online', connections: 1, since: online.since, lastSeen: null });

    const closing = Date.now();
    laptop.disconnect();
    await waitFor('offline', async () => !(await presence.isOnline('acme', 'alice')));
    const offline = await presence.get('acme', 'alice');
    expect(offline).toMatchObject({ status: 'offline', connections: 0, since: null });
    expect(offline.lastSeen).toBeGreaterThanOrEqual(closing);
    expect(offline.lastSeen).toBeLessThanOrEqual(Date.now());
    expect(changes.filter((c) => c.userId === 'alice').map((c) => [c.type, c.lastSeen])).toEqual([['online', null], ['offline', offline.lastSeen]]);
  });

  it('namespaces over one physical connection count as one connection', async () => {
    const manager = new Manager(t.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
    const root = manager.socket('/', { auth: { token: token('alice') } });
    const chat = manager.socket('/chat', { auth: { token: token('alice') } });
    await Promise.all([nextEvent(root, 'connect'), nextEvent(chat, 'connect')]);
    await presence.flush();
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'online', connections: 1 });
    chat.disconnect();
    expect(await root.emitWithAck('ping', {})).toEqual({ ok: true });
    await presence.flush();
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'online', connections: 1 });
    root.disconnect();
    await waitFor('offline', async () => !(await presence.isOnline('acme', 'alice')));
  });

  it('a user never seen is offline with no lastSeen; ids are checked', async () => {
    expect(await presence.get('acme', 'nobody')).toEqual({
      userId: 'nobody', tenantId: 'acme', status: 'offline', connections: 0, since: null, lastSeen: null, preference: null,
    });
    expect(await presence.isOnline('acme', 'nobody')).toBe(false);
    await expect(presence.get('acme', '')).rejects.toThrow(InvalidPresenceQueryError);
    await expect(presence.get('acme', 'x'.repeat(513))).rejects.toThrow(InvalidPresenceQueryError);
    await expect(presence.isOnline(42 as unknown as string, 'alice')).rejects.toThrow(/tenantId/);
  });

  it('lists a tenant\'s online users in pages, never another tenant\'s', async () => {
    const users = ['u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7'];
    for (const u of users) await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: token(u, 'big') } });
    await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: token('u8', 'acme') } });
    await presence.flush();
    expect(await presence.countOnline('big')).toBe(7);
    const seen: PresenceRecord[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await presence.listOnline('big', { limit: 3, ...(cursor !== undefined ? { cursor } : {}) });
      sizes.push(page.users.length);
      seen.push(...page.users);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen.map((r) => r.userId).sort()).toEqual(users);
    for (const r of seen) expect(r).toMatchObject({ tenantId: 'big', status: 'online', connections: 1 });
    expect((await presence.listOnline('big')).users).toHaveLength(7);
    expect((await presence.listOnline('acme')).users.map((r) => r.userId)).toEqual(['u8']);
  });

  it.each([
    ['limit 0', { limit: 0 }, 'limit'], ['limit 1001', { limit: 1001 }, 'limit'], ['limit 2.5', { limit: 2.5 }, 'limit'],
    ['a made-up cursor', { cursor: 'garbage' }, 'cursor'], ['a cursor with bad characters', { cursor: 'p1.!!' }, 'cursor'],
    ['an empty cursor body', { cursor: 'p1.' }, 'cursor'], ['a 5 KB cursor', { cursor: `p1.${'A'.repeat(5000)}` }, 'cursor'],
    ['a non-canonical cursor', { cursor: 'p1.YWxpY2U=' }, 'cursor'],
  ])('refuses listOnline with %s', async (_label, options, argument) => {
    const error = await presence.listOnline('acme', options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidPresenceQueryError);
    expect((error as InvalidPresenceQueryError).argument).toBe(argument);
  });

  it('forged presence events from a client change nothing; a preference never overrides online/offline', async () => {
    const observer = await connected(t.url, '/chat', { auth: { token: token('carol') } });
    const updates: unknown[] = [];
    observer.on('presence_update', (u) => updates.push(u));
    const manager = new Manager(t.url, { forceNew: true, reconnection: false, transports: ['websocket'] });
    const aliceRoot = manager.socket('/', { auth: { token: token('alice') } });
    const aliceChat = manager.socket('/chat', { auth: { token: token('alice') } });
    await Promise.all([nextEvent(aliceRoot, 'connect'), nextEvent(aliceChat, 'connect')]);
    await presence.flush();
    const before = { alice: await presence.get('acme', 'alice'), bob: await presence.get('acme', 'bob'), count: await presence.countOnline('acme') };
    const changesBefore = changes.length;

    const forged: [string, unknown][] = [
      ['presence_update', { userId: 'bob', status: 'online' }],
      ['presence_update', { userId: 'alice', status: 'offline', lastSeen: 0 }],
      ['presence_update', { userId: 'alice', tenantId: 'acme', status: 'offline', connections: 0 }],
      ['presence:update', { userId: 'bob', status: 'online' }],
      ['set_status', { status: 'offline' }],
      ['set_status', { userId: 'bob', status: 'online' }],
      ['status', 'offline'],
      ['heartbeat', { userId: 'bob' }],
      ['presence', { online: false }],
      ['online', {}],
      ['offline', {}],
      ['user:online', { userId: 'bob' }],
    ];
    for (const socket of [aliceRoot, aliceChat]) {
      for (const [event, payload] of forged) socket.emit(event, payload);
    }
    // Raw frames too: events, an unsolicited pong, and an event for another namespace.
    const raw = new WebSocket(`${t.url.replace('http:', 'ws:')}/socket.io/?EIO=4&transport=websocket`);
    await new Promise<void>((resolve, reject) => {
      raw.on('message', (data: WebSocket.RawData) => {
        const text = data.toString();
        if (text.startsWith('0{')) raw.send(`40/chat,${JSON.stringify({ token: token('alice') })}`);
        else if (text.startsWith('40/chat,')) {
          raw.send('42/chat,["presence_update",{"userId":"bob","status":"online"}]');
          raw.send('42/chat,["heartbeat"]');
          raw.send('3');
          resolve();
        }
      });
      raw.on('error', reject);
    });
    // Barrier: each socket's acked round trip comes after its forged events were handled.
    expect(await aliceChat.emitWithAck('ping', {})).toEqual({ ok: true });
    expect(await aliceRoot.emitWithAck('ping', {})).toEqual({ ok: true });
    raw.close();
    await waitFor('the raw connection counted then closed', async () => (await connectionsOf('alice')) === 1);
    expect(await observer.emitWithAck('ping', {})).toEqual({ ok: true });
    await presence.flush();

    expect(await presence.get('acme', 'alice')).toEqual(before.alice);
    expect(await presence.get('acme', 'bob')).toEqual(before.bob);
    expect(before.bob).toMatchObject({ status: 'offline', lastSeen: null });
    expect(await presence.countOnline('acme')).toBe(before.count);
    expect(changes.slice(changesBefore)).toEqual([]);
    expect(updates).toEqual([]);

    // The app's own handler sets a preference: reported beside the status, never instead of it.
    expect(await aliceChat.emitWithAck('set_status', { preference: 'dnd' })).toEqual({ ok: true });
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'online', connections: 1, preference: 'dnd' });
    aliceRoot.disconnect();
    aliceChat.disconnect();
    await waitFor('offline despite the preference', async () => !(await presence.isOnline('acme', 'alice')));
    expect(await presence.get('acme', 'alice')).toMatchObject({ status: 'offline', connections: 0, preference: 'dnd' });
    await expect(presence.setPreference('acme', 'alice', 'online; DROP' as string)).rejects.toThrow(InvalidPresenceQueryError);
    await presence.setPreference('acme', 'alice', null);
    expect(await presence.getPreference('acme', 'alice')).toBeNull();
  });

  it('PresenceService has no way to set a status', () => {
    const methods = Object.getOwnPropertyNames(PresenceService.prototype).filter((m) => m !== 'constructor');
    const publicMethods = methods.filter((m) => !['observe', 'enqueue', 'onOnline', 'onOffline', 'confirmOffline', 'announce', 'roomStore'].includes(m));
    expect(publicMethods.sort()).toEqual(['countOnline', 'flush', 'get', 'getPreference', 'isOnline', 'listOnline', 'onApplicationShutdown', 'setPreference', 'stats',
      // Room presence: queries only.
      'countInRoom', 'isInRoom', 'listInRoom', 'roomMember', 'roomsOf'].sort());
  });
});
