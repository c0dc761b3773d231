import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { Socket } from 'socket.io-client';
import { PresenceService, SecureIoAdapter } from '../../lib/index.js';
import { RoomPresenceDiffService } from '../../lib/presence/room-presence-diff.service.js';
import { RoomPresenceTracker } from '../../lib/presence/room-presence.tracker.js';
import { AppModule } from '../../sample/app.module.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { closeAllClients, connected } from '../support/clients.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'sample-room-burst-secret-0123456789-abcdefghijk';
const BURST = 500;
/** The library's default `presence.rooms.diff.intervalMs`. */
const INTERVAL_MS = 100;

interface Diff { channelId: string; joins: string[]; leaves: string[] }

/** Diff batching and flap damping under a burst of 500 joins, through real clients (websocket). */
describe('sample app: presence_diff under a burst', () => {
  let app: INestApplication;
  let url: string;
  const tok = (sub: string) => signToken({ sub, tenant: 'burst', perms: ['channel:read', 'presence:read'] }, { secret: SECRET });
  const open = (sub: string) => connected(url, '/chat', { transports: ['websocket'], auth: { token: tok(sub) }, timeout: 30_000 });

  beforeAll(async () => {
    const config = loadSampleConfig({ JWT_SECRET: SECRET, DEMO_LOGIN: 'off', ALLOWED_ORIGINS: 'http://127.0.0.1:1', HANDSHAKE_RATE_PER_ADDRESS: '0' });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new SecureIoAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterAll(async () => {
    closeAllClients();
    const presence = app.get(PresenceService);
    await waitFor('everyone out', async () => (await presence.countOnline('burst')) === 0 && app.get(RoomPresenceTracker).stats.memberships === 0, 30_000);
    await waitFor('no diff left pending', () => app.get(RoomPresenceDiffService).stats.pendingRooms === 0, 30_000);
    await app.close();
  }, 90_000);

  it(`${BURST} joins in a burst reach a member as a few batched diffs, not ${BURST}; a reconnect wave within the flap window sends no leave`, async () => {
    const observer = await open('observer');
    const diffs: Diff[] = [];
    const seen = new Set<string>();
    observer.on('presence_diff', (diff: Diff) => {
      diffs.push(diff);
      for (const id of diff.joins) seen.add(id);
      for (const id of diff.leaves) seen.delete(id);
    });
    await observer.emitWithAck('channel:join', { channelId: 'lobby' });
    await waitFor('observer sees itself', () => seen.has('observer'), 10_000);
    diffs.length = 0;

    const ids = Array.from({ length: BURST }, (_, i) => `u${String(i).padStart(3, '0')}`);
    const sockets: Socket[] = [];
    for (let i = 0; i < BURST; i += 25) sockets.push(...(await Promise.all(ids.slice(i, i + 25).map(open))));
    let received = 0;
    for (const socket of sockets) socket.on('presence_diff', () => { received += 1; });

    const started = Date.now();
    const acks = await Promise.all(sockets.map((s) => s.emitWithAck('channel:join', { channelId: 'lobby' })));
    const burstMs = Date.now() - started;
    expect(acks.every((a) => a.ok === true)).toBe(true);
    await waitFor('observer has all 500', () => ids.every((id) => seen.has(id)), 20_000);
    const joinDiffs = diffs.length;
    console.log(`[measure] ${BURST} joins in ${burstMs} ms reached one member as ${joinDiffs} presence_diff messages; all members together received ${received}`);
    // One diff per interval at most (plus the one in flight at each end), and far fewer than the joins.
    expect(joinDiffs).toBeLessThanOrEqual(Math.ceil(burstMs / INTERVAL_MS) + 3);
    expect(joinDiffs).toBeLessThan(BURST / 5);
    // (The observer's own join may come as a diff after its snapshot: joins are idempotent.)
    expect(diffs.flatMap((d) => d.joins).filter((id) => id !== 'observer').sort()).toEqual(ids);
    expect(await app.get(PresenceService).countInRoom('burst', 'channel:lobby')).toBe(BURST + 1);
    const page = await app.get(PresenceService).listInRoom('burst', 'channel:lobby', { limit: 50, cursor: undefined });
    expect(page.members).toHaveLength(50);

    // A reconnect wave: 30 members drop and are back in the room (on a connection they already
    // had, so the wave is quick even on a loaded machine) within the flap window.
    const back: Socket[] = await Promise.all(ids.slice(0, 30).map(open));
    diffs.length = 0;
    const waveStarted = Date.now();
    for (const socket of sockets.slice(0, 30)) socket.disconnect();
    await Promise.all(back.map((s) => s.emitWithAck('channel:join', { channelId: 'lobby' })));
    console.log(`[measure] reconnect wave of 30: back in the room after ${Date.now() - waveStarted} ms (flap window 2000 ms)`);
    // Then one real leave, which must still arrive (after the flap window).
    sockets[450]!.disconnect();
    await waitFor('the real leave arrives', () => !seen.has('u450'), 15_000);
    expect(diffs.flatMap((d) => d.leaves)).toEqual(['u450']);
    for (const id of ids.slice(0, 30)) expect(seen.has(id)).toBe(true);
  }, 240_000);
});
