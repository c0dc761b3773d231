import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Socket as ClientSocket } from 'socket.io-client';
import { SecureIoAdapter, SecurityInventoryService } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { closeAllClients, connect, connected, nextEvent, TRANSPORTS, type Transport } from '../support/clients.js';
import { signToken } from '../support/tokens.js';

const SECRET = 'sample-authorization-secret-0123456789-abcdefghij';
const FORBIDDEN = { error: { code: 'FORBIDDEN', message: 'Forbidden' } };

interface ChatMessage {
  id: string;
  channelId: string;
  userId: string;
  text: string;
  sentAt: number;
}

/** The sample app (SAMPLE_CONTRACT.md): no handler is reachable without the permission it declares. */
describe('sample app: authorization and moderation', () => {
  let app: INestApplication;
  let url: string;
  const tok = (sub: string, perms: string[], tenant = 'acme') => signToken({ sub, tenant, perms }, { secret: SECRET });
  const join = (transport: Transport, sub: string, perms: string[], tenant = 'acme') =>
    connected(url, '/chat', { transports: [transport], auth: { token: tok(sub, perms, tenant) } });
  const ask = (socket: ClientSocket, event: string, body: unknown) => socket.timeout(3000).emitWithAck(event, body) as Promise<unknown>;
  const http = (method: string, path: string, token?: string, body?: unknown) => fetch(url + path, {
    method,
    headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

  beforeAll(async () => {
    const config = loadSampleConfig({ JWT_SECRET: SECRET, DEMO_LOGIN: 'off', ALLOWED_ORIGINS: 'http://127.0.0.1:1', MESSAGE_RATE_PER_USER: '100000' });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new SecureIoAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterEach(async () => {
    closeAllClients();
    await http('DELETE', '/moderation/users/eve/ban', tok('mod', ['moderation:*']));
  });
  afterAll(async () => { await app.close(); });

  it('the start-up inventory lists every handler of the sample with its permission, none denied', () => {
    const inventory = app.get(SecurityInventoryService).getInventory();
    const rows = inventory.namespaces.flatMap((ns) => ns.handlers.map((h) => `${ns.namespace} ${h.event} ${h.access} ${h.permission ?? ''} ${h.resource ?? ''}`.trim()));
    expect(rows.sort()).toEqual([
      '/chat channel:join permission channel:read channelId',
      '/chat channel:leave public',
      '/chat message:send permission channel:write channelId',
      '/chat presence:list permission presence:read',
      '/chat presence:room permission presence:read',
      '/moderation presence:list permission moderation:read',
    ]);
    expect(inventory.denied).toEqual([]);
  });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('channel:join needs channel:read covering the channel; message:send needs channel:write and membership', async () => {
      const carol = await join(transport, 'carol', ['channel:read:general']);
      const alice = await join(transport, 'alice', ['channel:read', 'channel:write']);
      const nobody = await join(transport, 'nobody', ['presence:read']);
      expect(await ask(carol, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      expect(await ask(carol, 'channel:join', { channelId: 'random' })).toEqual(FORBIDDEN);
      expect(await ask(nobody, 'channel:join', { channelId: 'general' })).toEqual(FORBIDDEN);
      expect(await ask(carol, 'message:send', { channelId: 'general', text: 'hi' })).toEqual(FORBIDDEN);
      expect(await ask(alice, 'message:send', { channelId: 'general', text: 'hi' })).toEqual({ error: { code: 'FORBIDDEN', message: 'Join the channel first' } });
      expect(await ask(alice, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      const toCarol = nextEvent<ChatMessage>(carol, 'message');
      expect(await ask(alice, 'message:send', { channelId: 'general', text: 'hello carol' })).toEqual({ ok: true, id: expect.any(String) });
      expect(await toCarol).toEqual(expect.objectContaining({ channelId: 'general', userId: 'alice', text: 'hello carol' }));
      expect(await ask(carol, 'channel:leave', { channelId: 'general' })).toEqual({ ok: true });
      expect(await ask(carol, 'channel:leave', { channelId: 'general' })).toEqual({ error: { code: 'NOT_FOUND', message: 'Not found' } });
      expect(await ask(alice, 'channel:join', { channelId: '__proto__' })).toEqual({ error: expect.objectContaining({ code: 'VALIDATION_FAILED' }) });
    });

    it("tenants never see each other's channels", async () => {
      const alice = await join(transport, 'alice', ['channel:read', 'channel:write']);
      const dave = await join(transport, 'dave', ['channel:read', 'channel:write'], 'globex');
      expect(await ask(alice, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      expect(await ask(dave, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      const daveGot: unknown[] = [];
      dave.on('message', (m) => daveGot.push(m));
      const own = nextEvent(alice, 'message');
      await ask(alice, 'message:send', { channelId: 'general', text: 'acme only' });
      await own;
      expect(await ask(dave, 'channel:leave', { channelId: 'general' })).toEqual({ ok: true });
      expect(daveGot).toEqual([]);
    });
  });

  it('/moderation needs moderation:read for every event', async () => {
    const reader = await connected(url, '/moderation', { auth: { token: tok('mod', ['moderation:read']) } });
    const chatter = await connected(url, '/moderation', { auth: { token: tok('alice', ['channel:*', 'presence:read']) } });
    expect(await ask(reader, 'presence:list', {})).toEqual(expect.objectContaining({ ok: true }));
    expect(await ask(chatter, 'presence:list', {})).toEqual(FORBIDDEN);
  });

  describe('moderation routes', () => {
    it('need a bearer token with moderation:write, within the caller\'s tenant', async () => {
      expect((await http('POST', '/moderation/users/eve/ban')).status).toBe(401);
      expect((await http('POST', '/moderation/users/eve/ban', tok('mod', ['moderation:read']))).status).toBe(403);
      expect((await http('POST', '/moderation/users/eve/disconnect', tok('alice', ['channel:*']))).status).toBe(403);
      expect((await http('DELETE', '/moderation/users/eve/ban', tok('mod', ['moderation:read']))).status).toBe(403);
      // A moderator of another tenant bans their own tenant's "eve", not acme's.
      const eve = await join('websocket', 'eve', ['channel:*']);
      expect((await http('POST', '/moderation/users/eve/ban', tok('gmod', ['moderation:write'], 'globex'))).status).toBe(200);
      expect(await ask(eve, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
      expect((await connect(url, '/chat', { auth: { token: tok('eve', [], 'globex') } })).error?.data?.code).toBe('BANNED');
      expect((await http('DELETE', '/moderation/users/eve/ban', tok('gmod', ['moderation:write'], 'globex'))).status).toBe(200);
    });

    it('ban closes every socket of the user and refuses new handshakes with BANNED until unbanned', async () => {
      const sockets = [
        await connected(url, '/chat', { transports: ['polling'], auth: { token: tok('eve', ['channel:*']) } }),
        await connected(url, '/chat', { transports: ['websocket'], auth: { token: tok('eve', ['channel:*']) } }),
        await connected(url, '/moderation', { transports: ['websocket'], auth: { token: tok('eve', ['moderation:read']) } }),
      ];
      const closed = sockets.map((s) => Promise.all([nextEvent(s, 'exception'), nextEvent(s, 'disconnect')]));
      const res = await http('POST', '/moderation/users/eve/ban', tok('mod', ['moderation:write']), { reason: 'spam' });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ ok: true, until: null });
      for (const [exception] of await Promise.all(closed)) expect(exception).toEqual({ error: { code: 'BANNED', message: 'Access revoked' } });
      expect((await connect(url, '/chat', { auth: { token: tok('eve', ['channel:*']) } })).error?.data?.code).toBe('BANNED');
      expect((await http('DELETE', '/moderation/users/eve/ban', tok('mod', ['moderation:write']))).status).toBe(200);
      expect((await connect(url, '/chat', { auth: { token: tok('eve', ['channel:*']) } })).connected).toBe(true);
    });

    it('disconnect closes every socket; the user may reconnect', async () => {
      const eve = await connected(url, '/chat', { auth: { token: tok('eve', ['channel:*']) } });
      const closed = nextEvent(eve, 'disconnect');
      expect((await http('POST', '/moderation/users/eve/disconnect', tok('mod', ['moderation:write']))).status).toBe(200);
      await closed;
      expect((await connect(url, '/chat', { auth: { token: tok('eve', ['channel:*']) } })).connected).toBe(true);
    });

    it('refuses malformed requests with 400', async () => {
      const mod = tok('mod', ['moderation:write']);
      expect((await http('POST', '/moderation/users/eve/ban', mod, { until: Date.now() - 1000 })).status).toBe(400);
      expect((await http('POST', '/moderation/users/eve/ban', mod, { until: 'tomorrow' })).status).toBe(400);
      expect((await http('POST', '/moderation/users/eve/ban', mod, { reason: 'x'.repeat(501) })).status).toBe(400);
      expect((await http('POST', '/moderation/users/eve/ban', mod, { admin: true })).status).toBe(400);
      expect((await http('POST', `/moderation/users/${encodeURIComponent('e\u0000ve')}/disconnect`, mod)).status).toBe(400);
      expect((await connect(url, '/chat', { auth: { token: tok('eve', []) } })).connected).toBe(true);
    });
  });
});
