import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Socket } from 'socket.io-client';
import { ModerationService, PresenceService, SecureIoAdapter } from '../../lib/index.js';
import { RoomPresenceTracker } from '../../lib/presence/room-presence.tracker.js';
import { AppModule } from '../../sample/app.module.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { closeAllClients, connect, connected, TRANSPORTS, type Transport } from '../support/clients.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'sample-room-presence-secret-0123456789-abcdefgh';
const WAIT_MS = 15_000;

interface Diff {
  channelId: string;
  joins: string[];
  leaves: string[];
}

/** What one client has learnt of a channel from `presence_diff` alone (joins add, leaves remove). */
class RoomView {
  readonly members = new Set<string>();
  readonly diffs: Diff[] = [];

  constructor(socket: Socket, private readonly channelId: string) {
    socket.on('presence_diff', (diff: Diff) => {
      this.diffs.push(diff);
      if (diff.channelId !== this.channelId) return;
      for (const id of diff.joins) this.members.add(id);
      for (const id of diff.leaves) this.members.delete(id);
    });
  }

  sorted(): string[] {
    return [...this.members].sort();
  }
}

/**
 * Room presence in the sample (SAMPLE_CONTRACT.md round 2): `presence:room`, `presence_diff`,
 * `GET /moderation/rooms/:channelId/presence`, through real Socket.IO clients on both transports.
 */
describe('sample app: room presence', () => {
  let app: INestApplication;
  let url: string;
  let presence: PresenceService;
  const tok = (sub: string, perms: string[] = ['channel:read', 'channel:write', 'presence:read'], tenant = 'acme') =>
    signToken({ sub, tenant, perms }, { secret: SECRET });
  const mod = (tenant = 'acme') => tok('mod', ['moderation:*'], tenant);
  const get = (path: string, token?: string) => fetch(url + path, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  const members = async (channelId: string, tenant = 'acme') =>
    ((await (await get(`/moderation/rooms/${channelId}/presence`, mod(tenant))).json()) as { members: { userId: string; connections: number }[] }).members;

  beforeAll(async () => {
    const config = loadSampleConfig({ JWT_SECRET: SECRET, MAX_CONNECTIONS_PER_USER: '5', DEMO_LOGIN: 'off', ALLOWED_ORIGINS: 'http://127.0.0.1:1', HANDSHAKE_RATE_PER_ADDRESS: '0', MESSAGE_RATE_PER_USER: '1000' });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new SecureIoAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
    presence = app.get(PresenceService);
  });
  afterEach(async () => {
    closeAllClients();
    await waitFor('everyone offline and out of every room', async () => {
      await presence.flush();
      return (await presence.countOnline('acme')) + (await presence.countOnline('globex')) === 0 && app.get(RoomPresenceTracker).stats.memberships === 0;
    }, WAIT_MS);
  });
  afterAll(async () => { await app.close(); });

  describe.each(TRANSPORTS)('over %s', (transport: Transport) => {
    const open = (sub: string, perms?: string[], tenant?: string) => connected(url, '/chat', { transports: [transport], auth: { token: tok(sub, perms, tenant) } });

    it('join, leave and disconnect: members see each other appear and disappear; presence:room and the HTTP route agree', async () => {
      const alice = await open('alice');
      const aliceView = new RoomView(alice, 'general');
      expect(await alice.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
      await waitFor('alice sees herself (snapshot)', () => aliceView.members.has('alice'), WAIT_MS);

      const bob = await open('bob');
      const bobView = new RoomView(bob, 'general');
      expect(await bob.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
      // The join is in the store once the ack is back.
      expect(await presence.isInRoom('acme', 'bob', 'channel:general')).toBe(true);
      await waitFor('bob gets the snapshot', () => bobView.sorted().join() === 'alice,bob', WAIT_MS);
      await waitFor('alice sees bob join', () => aliceView.sorted().join() === 'alice,bob', WAIT_MS);

      expect(await alice.emitWithAck('presence:room', { channelId: 'general' })).toEqual({
        ok: true, members: [{ userId: 'alice', connections: 1 }, { userId: 'bob', connections: 1 }],
      });
      expect(await members('general')).toEqual([{ userId: 'alice', connections: 1 }, { userId: 'bob', connections: 1 }]);
      expect(await presence.roomsOf('acme', 'bob')).toEqual(['channel:general']);

      expect(await bob.emitWithAck('channel:leave', { channelId: 'general' })).toEqual({ ok: true });
      expect(await presence.isInRoom('acme', 'bob', 'channel:general')).toBe(false);
      await waitFor('alice sees bob leave', () => aliceView.sorted().join() === 'alice', WAIT_MS);

      await bob.emitWithAck('channel:join', { channelId: 'general' });
      await waitFor('alice sees bob again', () => aliceView.members.has('bob'), WAIT_MS);
      bob.disconnect();
      await waitFor('bob out of the room after his disconnect', async () => !(await presence.isInRoom('acme', 'bob', 'channel:general')), WAIT_MS);
      await waitFor('alice sees bob leave after his disconnect', () => !aliceView.members.has('bob'), WAIT_MS);
      expect(await members('general')).toEqual([{ userId: 'alice', connections: 1 }]);
      expect(await presence.roomsOf('acme', 'bob')).toEqual([]);
    });

    it('multi-device: one of two sockets leaving keeps the user in; connections count devices', async () => {
      const watcher = await open('watcher');
      const view = new RoomView(watcher, 'general');
      await watcher.emitWithAck('channel:join', { channelId: 'general' });
      const phone = await open('alice');
      const laptop = await open('alice');
      await phone.emitWithAck('channel:join', { channelId: 'general' });
      await laptop.emitWithAck('channel:join', { channelId: 'general' });
      expect((await members('general')).find((m) => m.userId === 'alice')).toEqual({ userId: 'alice', connections: 2 });
      await waitFor('watcher sees alice', () => view.members.has('alice'), WAIT_MS);
      const joinsOfAlice = () => view.diffs.flatMap((d) => d.joins).filter((id) => id === 'alice').length;
      expect(joinsOfAlice()).toBe(1);

      phone.disconnect();
      await waitFor('one device left', async () => (await presence.roomMember('acme', 'alice', 'channel:general'))?.connections === 1, WAIT_MS);
      expect(await presence.isInRoom('acme', 'alice', 'channel:general')).toBe(true);
      await laptop.emitWithAck('channel:leave', { channelId: 'general' });
      expect(await presence.isInRoom('acme', 'alice', 'channel:general')).toBe(false);
      await waitFor('watcher sees alice leave once', () => !view.members.has('alice'), WAIT_MS);
      expect(view.diffs.flatMap((d) => d.leaves).filter((id) => id === 'alice')).toHaveLength(1);
      expect(joinsOfAlice()).toBe(1);
    });

    it('a member who loses channel:read is evicted and disappears; one who loses presence:read stops getting diffs', async () => {
      const watcher = await open('watcher');
      const view = new RoomView(watcher, 'general');
      await watcher.emitWithAck('channel:join', { channelId: 'general' });
      const carol = await open('carol');
      await carol.emitWithAck('channel:join', { channelId: 'general' });
      await waitFor('watcher sees carol', () => view.members.has('carol'), WAIT_MS);

      await app.get(ModerationService).setPermissions('acme', 'carol', ['channel:write']);
      await waitFor('carol evicted from the room presence', async () => !(await presence.isInRoom('acme', 'carol', 'channel:general')), WAIT_MS);
      await waitFor('watcher sees carol disappear', () => !view.members.has('carol'), WAIT_MS);
      expect(carol.connected).toBe(true);
      expect((await carol.emitWithAck('presence:room', { channelId: 'general' })).error.code).toBe('FORBIDDEN');

      // The watcher keeps channel:read but loses presence:read: no diff reaches it any more.
      await app.get(ModerationService).setPermissions('acme', 'watcher', ['channel:read']);
      await waitFor('watcher override applied', async () => (await watcher.emitWithAck('presence:room', { channelId: 'general' })).error?.code === 'FORBIDDEN', WAIT_MS);
      const before = view.diffs.length;
      const bob = await open('bob');
      const bobView = new RoomView(bob, 'general');
      await bob.emitWithAck('channel:join', { channelId: 'general' });
      await waitFor('bob sees watcher and himself', () => bobView.sorted().join() === 'bob,watcher', WAIT_MS);
      await bob.emitWithAck('channel:leave', { channelId: 'general' });
      await bob.emitWithAck('channel:join', { channelId: 'general' });
      // A round trip after the diff reached bob: anything sent to the watcher has arrived too.
      await waitFor('bob sees more diffs', () => bobView.diffs.length >= 2, WAIT_MS);
      await watcher.emitWithAck('presence:room', { channelId: 'general' });
      expect(view.diffs.length).toBe(before);
      await app.get(ModerationService).setPermissions('acme', 'carol', null);
      await app.get(ModerationService).setPermissions('acme', 'watcher', null);
    });

    it('a banned user disappears from the room', async () => {
      const watcher = await open('watcher');
      const view = new RoomView(watcher, 'general');
      await watcher.emitWithAck('channel:join', { channelId: 'general' });
      const mallory = await open('mallory');
      await mallory.emitWithAck('channel:join', { channelId: 'random' });
      await mallory.emitWithAck('channel:join', { channelId: 'general' });
      await waitFor('watcher sees mallory', () => view.members.has('mallory'), WAIT_MS);
      expect(await presence.roomsOf('acme', 'mallory')).toEqual(['channel:general', 'channel:random']);
      const res = await fetch(`${url}/moderation/users/mallory/ban`, { method: 'POST', headers: { authorization: `Bearer ${mod()}` } });
      expect(res.status).toBeLessThan(300);
      await waitFor('mallory out of both rooms', async () => (await presence.roomsOf('acme', 'mallory')).length === 0, WAIT_MS);
      await waitFor('watcher sees mallory disappear', () => !view.members.has('mallory'), WAIT_MS);
      expect(await members('random')).toEqual([]);
      await fetch(`${url}/moderation/users/mallory/ban`, { method: 'DELETE', headers: { authorization: `Bearer ${mod()}` } });
    });

    it('equal channel names in two tenants: nobody sees the other tenant\'s members or diffs', async () => {
      const alice = await open('alice');
      const aliceView = new RoomView(alice, 'general');
      const dave = await open('dave', undefined, 'globex');
      const daveView = new RoomView(dave, 'general');
      await alice.emitWithAck('channel:join', { channelId: 'general' });
      await dave.emitWithAck('channel:join', { channelId: 'general' });
      const bob = await open('bob');
      await bob.emitWithAck('channel:join', { channelId: 'general' });
      await waitFor('alice sees bob', () => aliceView.sorted().join() === 'alice,bob', WAIT_MS);
      await bob.emitWithAck('channel:leave', { channelId: 'general' });
      await waitFor('alice sees bob leave', () => aliceView.sorted().join() === 'alice', WAIT_MS);
      await dave.emitWithAck('presence:room', { channelId: 'general' });
      expect(new Set(daveView.diffs.flatMap((d) => [...d.joins, ...d.leaves]))).toEqual(new Set(['dave']));
      expect(aliceView.diffs.flatMap((d) => [...d.joins, ...d.leaves]).filter((id) => id === 'dave')).toEqual([]);
      expect((await dave.emitWithAck('presence:room', { channelId: 'general' })).members).toEqual([{ userId: 'dave', connections: 1 }]);
      expect(await members('general', 'globex')).toEqual([{ userId: 'dave', connections: 1 }]);
      expect(await members('general', 'acme')).toEqual([{ userId: 'alice', connections: 1 }]);
    });
  });

  it('presence:room needs presence:read and channel:read on that channel; bad input gets a code, never an echo', async () => {
    const scoped = await connected(url, '/chat', { auth: { token: tok('carol', ['channel:read:general', 'presence:read']) } });
    const blind = await connected(url, '/chat', { auth: { token: tok('blind', ['channel:read']) } });
    expect((await scoped.emitWithAck('presence:room', { channelId: 'general' })).ok).toBe(true);
    expect((await scoped.emitWithAck('presence:room', { channelId: 'ops' })).error.code).toBe('FORBIDDEN');
    expect((await blind.emitWithAck('presence:room', { channelId: 'general' })).error.code).toBe('FORBIDDEN');
    for (const bad of [{}, { channelId: '__proto__' }, { channelId: 'general', limit: 0 }, { channelId: 'general', limit: 5000 }, { channelId: 'x'.repeat(300) }]) {
      const ack = await scoped.emitWithAck('presence:room', bad);
      expect(ack.error.code).toBe('VALIDATION_FAILED');
      expect(JSON.stringify(ack)).not.toContain('__proto__');
    }
    const forged = await scoped.emitWithAck('presence:room', { channelId: 'general', cursor: 'p1.forged<script>' });
    expect(forged.error.code).toBe('VALIDATION_FAILED');
    expect(JSON.stringify(forged)).not.toContain('script');
    expect((await get('/moderation/rooms/general/presence')).status).toBe(401);
    expect((await get('/moderation/rooms/general/presence', tok('reader', ['presence:read']))).status).toBe(403);
    expect((await get('/moderation/rooms/__proto__/presence', mod())).status).toBe(400);
    expect((await get('/moderation/rooms/general/presence?cursor=forged', mod())).status).toBe(400);
  });

  it('pages: presence:room hands out a cursor, and the pages cover every member once', async () => {
    const sockets = await Promise.all(Array.from({ length: 12 }, (_, i) => connected(url, '/chat', { auth: { token: tok(`u${String(i).padStart(2, '0')}`) } })));
    await Promise.all(sockets.map((s) => s.emitWithAck('channel:join', { channelId: 'paged' })));
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i += 1) {
      const ack = await sockets[0].emitWithAck('presence:room', { channelId: 'paged', limit: 5, ...(cursor !== undefined ? { cursor } : {}) });
      expect(ack.ok).toBe(true);
      seen.push(...ack.members.map((m: { userId: string }) => m.userId));
      cursor = ack.cursor;
      if (cursor === undefined) break;
    }
    expect(seen).toEqual(sockets.map((_, i) => `u${String(i).padStart(2, '0')}`));
    expect(await presence.countInRoom('acme', 'channel:paged')).toBe(12);
  });

  it('client events cannot add, remove or decorate a member', async () => {
    const alice = await connected(url, '/chat', { auth: { token: tok('alice') } });
    const view = new RoomView(alice, 'general');
    await alice.emitWithAck('channel:join', { channelId: 'general' });
    await waitFor('alice in the room', () => view.members.has('alice'), WAIT_MS);
    for (const event of ['presence_diff', 'presence:join', 'presence:set', 'room:join']) {
      alice.emit(event, { channelId: 'general', joins: ['ghost'], leaves: ['alice'], meta: { role: 'admin' } });
    }
    alice.emit('presence:room', { channelId: 'general', joins: ['ghost'] });
    await alice.emitWithAck('presence:room', { channelId: 'general' });
    expect(await presence.listInRoom('acme', 'channel:general')).toEqual({ members: [{ userId: 'alice', connections: 1, joinedAt: expect.any(Number), meta: null }] });
    expect(view.sorted()).toEqual(['alice']);
  });

  it('a socket in the most rooms allowed is refused the next one with ROOM_LIMIT; leaving makes room', async () => {
    const alice = await connected(url, '/chat', { auth: { token: tok('alice') } });
    for (let i = 0; i < 100; i += 1) expect(await alice.emitWithAck('channel:join', { channelId: `c${i}` })).toEqual({ ok: true });
    expect(await alice.emitWithAck('channel:join', { channelId: 'c0' })).toEqual({ ok: true });
    expect((await alice.emitWithAck('channel:join', { channelId: 'one-too-many' })).error.code).toBe('ROOM_LIMIT');
    expect(await presence.isInRoom('acme', 'alice', 'channel:one-too-many')).toBe(false);
    expect((await presence.roomsOf('acme', 'alice')).length).toBe(100);
    await alice.emitWithAck('channel:leave', { channelId: 'c7' });
    expect(await alice.emitWithAck('channel:join', { channelId: 'one-too-many' })).toEqual({ ok: true });
    alice.disconnect();
    await waitFor('alice out of all rooms', async () => (await presence.roomsOf('acme', 'alice')).length === 0, WAIT_MS);
  });

  it('a refused handshake never enters a room', async () => {
    const outcome = await connect(url, '/chat', { auth: { token: 'not-a-jwt' } });
    expect(outcome.connected).toBe(false);
    expect(app.get(RoomPresenceTracker).stats.memberships).toBe(0);
  });
});
