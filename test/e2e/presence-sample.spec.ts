import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { PresenceService, SecureIoAdapter } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { closeAllClients, connect, connected, type Transport } from '../support/clients.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'sample-presence-secret-0123456789-abcdefghijklmnop';

interface Update {
  userId: string;
  status: string;
  lastSeen?: number;
}

/**
 * The sample app (SAMPLE_CONTRACT.md) for the seed checks
 * `community-realtime.presence.server-computed-presence` and
 * `community-realtime.connection-management.per-user-connection-limits`.
 */
describe('sample app: presence and the per-user connection limit', () => {
  let app: INestApplication;
  let url: string;
  const tok = (sub: string, perms: string[], tenant = 'acme') => signToken({ sub, tenant, perms }, { secret: SECRET });

  beforeAll(async () => {
    const config = loadSampleConfig({ JWT_SECRET: SECRET, MAX_CONNECTIONS_PER_USER: '2', DEMO_LOGIN: 'off', ALLOWED_ORIGINS: 'http://127.0.0.1:1' });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new SecureIoAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterEach(async () => {
    closeAllClients();
    const presence = app.get(PresenceService);
    await waitFor('everyone offline', async () => (await presence.countOnline('acme')) + (await presence.countOnline('globex')) === 0);
  });
  afterAll(async () => { await app.close(); });

  const get = (path: string, token?: string) =>
    fetch(url + path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const mod = () => tok('mod', ['moderation:read']);

  it('defaults MAX_CONNECTIONS_PER_USER to 3 and refuses values outside 1..10', () => {
    expect(loadSampleConfig({}).maxConnectionsPerUser).toBe(3);
    expect(() => loadSampleConfig({ MAX_CONNECTIONS_PER_USER: '11' })).toThrow(/MAX_CONNECTIONS_PER_USER/);
    expect(() => loadSampleConfig({ MAX_CONNECTIONS_PER_USER: '0' })).toThrow(/MAX_CONNECTIONS_PER_USER/);
  });

  it.each(['polling', 'websocket'] as Transport[])('honours MAX_CONNECTIONS_PER_USER=2 under 20 parallel handshakes (%s)', async (transport) => {
    const token = tok('alice', ['channel:*']);
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => connect(url, '/chat', { transports: [transport], auth: { token } })));
    expect(outcomes.filter((o) => o.connected)).toHaveLength(2);
    expect(new Set(outcomes.filter((o) => !o.connected).map((o) => o.error?.data?.code))).toEqual(new Set(['CONNECTION_LIMIT']));
    const res = await get('/moderation/presence/alice', mod());
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ userId: 'alice', status: 'online', connections: 2 });
    outcomes.forEach((o) => o.socket.disconnect());
    await waitFor('alice offline', async () => ((await (await get('/moderation/presence/alice', mod())).json()) as Update).status === 'offline');
  });

  it('presence:list on /chat needs presence:read and lists the own tenant only', async () => {
    await connected(url, '/chat', { auth: { token: tok('alice', ['channel:*']) } });
    await connected(url, '/chat', { auth: { token: tok('eve', ['channel:*'], 'globex') } });
    const reader = await connected(url, '/chat', { auth: { token: tok('reader', ['presence:read']) } });
    const noRead = await connected(url, '/chat', { auth: { token: tok('bob', ['channel:*']) } });
    await app.get(PresenceService).flush();
    const ack = await reader.emitWithAck('presence:list', {});
    expect(ack.ok).toBe(true);
    expect(ack.users.map((u: Update) => u.userId).sort()).toEqual(['alice', 'bob', 'reader']);
    for (const u of ack.users) expect(Object.keys(u).sort()).toEqual(['lastSeen', 'status', 'userId']);
    expect((await noRead.emitWithAck('presence:list', {})).error.code).toBe('FORBIDDEN');
  });

  it('/moderation presence:list needs moderation:read and includes connection counts', async () => {
    await connected(url, '/chat', { auth: { token: tok('alice', ['channel:*']) } });
    await connected(url, '/chat', { auth: { token: tok('alice', ['channel:*']) } });
    const moderator = await connected(url, '/moderation', { auth: { token: tok('mod', ['moderation:read']) } });
    const reader = await connected(url, '/moderation', { auth: { token: tok('reader', ['presence:read']) } });
    await app.get(PresenceService).flush();
    const ack = await moderator.emitWithAck('presence:list', {});
    expect(ack.ok).toBe(true);
    expect(ack.users.find((u: Update) => u.userId === 'alice')).toEqual({ userId: 'alice', status: 'online', connections: 2, lastSeen: expect.any(Number) });
    expect(ack.users.map((u: Update) => u.userId).sort()).toEqual(['alice', 'mod', 'reader']);
    expect((await reader.emitWithAck('presence:list', {})).error.code).toBe('FORBIDDEN');
  });

  it('GET /moderation/presence[/:userId] need a bearer with moderation:read and stay in the caller\'s tenant', async () => {
    const alice = await connected(url, '/chat', { auth: { token: tok('alice', ['channel:*']) } });
    await connected(url, '/chat', { auth: { token: tok('eve', ['channel:*'], 'globex') } });
    await app.get(PresenceService).flush();
    expect((await get('/moderation/presence')).status).toBe(401);
    expect((await get('/moderation/presence', 'not-a-jwt')).status).toBe(401);
    expect((await get('/moderation/presence', tok('mod', ['moderation:read'], 'acme').slice(0, -3) + 'xyz')).status).toBe(401);
    expect((await get('/moderation/presence', tok('reader', ['presence:read']))).status).toBe(403);
    const list = await get('/moderation/presence', mod());
    expect(list.status).toBe(200);
    const body = await list.json() as { users: Update[] };
    expect(body.users).toEqual([{ userId: 'alice', status: 'online', connections: 1, lastSeen: expect.any(Number) }]);
    const globex = await (await get('/moderation/presence', tok('mod', ['moderation:*'], 'globex'))).json() as { users: Update[] };
    expect(globex.users.map((u) => u.userId)).toEqual(['eve']);
    expect(await (await get('/moderation/presence/eve', mod())).json()).toEqual({ userId: 'eve', status: 'offline', connections: 0, lastSeen: null });
    expect((await get('/moderation/presence?limit=0', mod())).status).toBe(400);
    expect((await get('/moderation/presence?cursor=forged', mod())).status).toBe(400);

    const closing = Date.now();
    alice.disconnect();
    await waitFor('alice offline', async () => ((await (await get('/moderation/presence/alice', mod())).json()) as Update).status === 'offline');
    const one = await (await get('/moderation/presence/alice', mod())).json() as Update & { connections: number };
    expect(one).toMatchObject({ userId: 'alice', status: 'offline', connections: 0 });
    expect(one.lastSeen).toBeGreaterThanOrEqual(closing);
  });

  it('presence_update reaches same-tenant presence:read sockets on /chat, and nobody else', async () => {
    const reader = await connected(url, '/chat', { auth: { token: tok('reader', ['presence:read']) } });
    const blind = await connected(url, '/chat', { auth: { token: tok('blind', ['channel:*']) } });
    const foreign = await connected(url, '/chat', { auth: { token: tok('spy', ['presence:read'], 'globex') } });
    const seen: Record<string, Update[]> = { reader: [], blind: [], foreign: [] };
    reader.on('presence_update', (u: Update) => seen.reader.push(u));
    blind.on('presence_update', (u: Update) => seen.blind.push(u));
    foreign.on('presence_update', (u: Update) => seen.foreign.push(u));
    const online = new Promise<Update>((resolve) => reader.on('presence_update', (u: Update) => { if (u.userId === 'carol') resolve(u); }));
    await connected(url, '/chat', { auth: { token: tok('carol', ['channel:*']) } });
    expect(await online).toEqual({ userId: 'carol', status: 'online' });
    // Round trips after the update: anything sent to these sockets has arrived.
    await blind.emitWithAck('presence:list', {});
    await foreign.emitWithAck('presence:list', {});
    expect(seen.blind).toEqual([]);
    expect(seen.foreign.filter((u) => u.userId === 'carol')).toEqual([]);
  });

  it('forged presence events from clients change nothing (server-computed presence)', async () => {
    const alice = await connected(url, '/chat', { auth: { token: tok('alice', ['channel:*', 'presence:read']) } });
    const aliceMod = await connected(url, '/moderation', { auth: { token: tok('alice', ['moderation:read']) } });
    await app.get(PresenceService).flush();
    const before = await (await get('/moderation/presence', mod())).json();
    for (const socket of [alice, aliceMod]) {
      socket.emit('presence_update', { userId: 'zed', status: 'online' });
      socket.emit('presence_update', { userId: 'alice', status: 'offline', lastSeen: 1 });
      socket.emit('set_status', { status: 'offline' });
      socket.emit('heartbeat', { userId: 'ghost' });
    }
    expect((await alice.emitWithAck('presence:list', {})).ok).toBe(true);
    expect((await aliceMod.emitWithAck('presence:list', {})).ok).toBe(true);
    expect(await (await get('/moderation/presence', mod())).json()).toEqual(before);
    expect(await (await get('/moderation/presence/zed', mod())).json()).toEqual({ userId: 'zed', status: 'offline', connections: 0, lastSeen: null });
    expect(await (await get('/moderation/presence/ghost', mod())).json()).toMatchObject({ status: 'offline', lastSeen: null });
  });
});
