import { Inject } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  type OnGatewayConnection,
} from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import { ModerationService, PresenceService, TenantRooms, WsPrincipal, WsPublic, type Principal } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { RAW_TRANSPORTS, RawEngineClient, type RawTransport, type SioPacket } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS case 50 (issue 14, finding 1): Socket.IO's connection-state recovery puts a recovered
 * socket back in its previous rooms in the Socket constructor, before any middleware. A user
 * demoted while away must not get those rooms back: restored tenant rooms are re-checked like a
 * join, other rooms go through `recovery.authorizeRoom` (dropped by default), the missed packets
 * of a dropped room are not replayed, and a kept room is tracked again (a later revocation
 * evicts it).
 */

@WebSocketGateway({ namespace: '/chat', connectionStateRecovery: { maxDisconnectionDuration: 60_000 } })
class RoomsGateway implements OnGatewayConnection {
  @WebSocketServer() nsp!: Namespace;

  constructor(@Inject(TenantRooms) private readonly rooms: TenantRooms) {}

  handleConnection(socket: Socket): void {
    // A room the library does not know (not a tenant room).
    if (!socket.recovered) void socket.join('lobby');
  }

  @WsPublic()
  @SubscribeMessage('channel:join')
  async join(@ConnectedSocket() socket: Socket, @MessageBody() body: { channelId: string; permission?: string }) {
    await this.rooms.join(socket, 'channel', body.channelId, body.permission !== undefined ? { permission: body.permission } : {});
    return { ok: true };
  }

  /** Sends `text` to a channel of the sender's tenant. */
  @WsPublic()
  @SubscribeMessage('post')
  post(@WsPrincipal() principal: Principal, @MessageBody() body: { channelId: string; text: string }) {
    this.nsp.to(this.rooms.roomFor(principal, 'channel', body.channelId)).emit('message', body.text);
    return { ok: true };
  }

  /** Sends `text` to the `lobby` room. */
  @WsPublic()
  @SubscribeMessage('lobby')
  lobby(@MessageBody() body: { text: string }) {
    this.nsp.to('lobby').emit('lobby', body.text);
    return { ok: true };
  }

  /** Sends `text` to every socket of the namespace (the marker that everything before it was delivered). */
  @WsPublic()
  @SubscribeMessage('announce')
  announce(@MessageBody() body: { text: string }) {
    this.nsp.emit('announce', body.text);
    return { ok: true };
  }

  @WsPublic()
  @SubscribeMessage('in')
  isIn(@ConnectedSocket() socket: Socket, @MessageBody() body: { channelId: string }) {
    return { channel: this.rooms.has(socket, 'channel', body.channelId), lobby: socket.rooms.has('lobby') };
  }
}

const READER = ['channel:read'];
const SENDER = ['channel:*'];

function isConnectAnswer(p: SioPacket): boolean {
  return p.nsp === '/chat' && (p.type === 0 || p.type === 4);
}

function unique(prefix: string): string {
  return `${prefix}-${Math.random().toString(36).slice(2)}`;
}

describe.each([
  ['without recovery.authorizeRoom', false],
  ['with a recovery.authorizeRoom keeping lobby', true],
] as const)('recovery re-authorizes restored rooms (%s)', (_name, withHook) => {
  let t: TestApp;
  let gateway: RoomsGateway;
  let moderation: ModerationService;
  let ackId = 100;

  beforeAll(async () => {
    t = await startApp({
      gateways: [RoomsGateway],
      security: { presence: { rooms: { enabled: true } }, ...(withHook ? { recovery: { authorizeRoom: ({ room }: { room: string }) => room === 'lobby' } } : {}) },
    });
    gateway = t.app.get(RoomsGateway);
    moderation = t.app.get(ModerationService);
  });
  afterEach(async () => {
    await RawEngineClient.closeAll();
    await moderation.setPermissions('acme', 'alice', null);
  });
  afterAll(async () => { await t.close(); });

  async function call(client: RawEngineClient, event: string, body: unknown): Promise<unknown> {
    ackId += 1;
    const id = ackId;
    await client.send(`2/chat,${id}${JSON.stringify([event, body])}`);
    const ack = await client.next((p) => p.type === 3 && p.id === id);
    return (ack.data as unknown[])[0];
  }

  /** Waits until `client` got the announce `marker`: every packet sent to it before is in its history. */
  async function flush(sender: RawEngineClient, client: RawEngineClient): Promise<void> {
    const marker = unique('marker');
    expect(await call(sender, 'announce', { text: marker })).toEqual({ ok: true });
    await client.next((p) => p.type === 2 && (p.data as unknown[])[1] === marker);
  }

  function seen(client: RawEngineClient, text: string): boolean {
    return client.history.some((p) => p.type === 2 && Array.isArray(p.data) && p.data[1] === text);
  }

  /**
   * Alice joins `channel` and `lobby`, gets one message (her offset), drops her transport, and
   * while she is away `whileAway` runs and the sender posts `missed` to the channel and to lobby.
   */
  async function aliceAway(transport: RawTransport, channel: string, options: { perms?: string[]; joinPermission?: string; whileAway?: () => Promise<void> }, missed: string) {
    const sender = await RawEngineClient.open(t.url, { transport: 'websocket' });
    expect((await sender.connect('/chat', { token: signToken({ sub: 'sender', perms: SENDER }) })).type).toBe(0);
    const alice = await RawEngineClient.open(t.url, { transport });
    const answer = await alice.connect('/chat', { token: signToken({ sub: 'alice', perms: options.perms ?? READER }) });
    const { sid, pid } = answer.data as { sid: string; pid: string };
    expect(await call(alice, 'channel:join', { channelId: channel, ...(options.joinPermission !== undefined ? { permission: options.joinPermission } : {}) })).toEqual({ ok: true });
    expect(await call(sender, 'post', { channelId: channel, text: 'first' })).toEqual({ ok: true });
    const first = await alice.next((p) => p.type === 2 && (p.data as unknown[])[1] === 'first');
    const offset = (first.data as string[])[2];
    await alice.close();
    await waitFor('the server to see alice leave', () => !gateway.nsp.sockets.has(sid));
    await options.whileAway?.();
    expect(await call(sender, 'post', { channelId: channel, text: missed })).toEqual({ ok: true });
    expect(await call(sender, 'lobby', { text: `${missed}-lobby` })).toEqual({ ok: true });
    return { sender, sid, pid, offset };
  }

  async function recover(transport: RawTransport, pid: string, offset: string, perms: string[]): Promise<{ client: RawEngineClient; answer: SioPacket }> {
    const client = await RawEngineClient.open(t.url, { transport });
    await client.send(`0/chat,${JSON.stringify({ token: signToken({ sub: 'alice', perms }), pid, offset })}`);
    return { client, answer: await client.next(isConnectAnswer) };
  }

  describe.each(RAW_TRANSPORTS)('over %s', (transport) => {
    it('a user demoted while away (override and a new token without channel:read) gets neither the room, nor its missed packets, nor its later messages', async () => {
      const channel = unique('secret');
      const missed = unique('missed');
      const { sender, sid, pid, offset } = await aliceAway(transport, channel, { whileAway: () => moderation.setPermissions('acme', 'alice', []) }, missed);
      const { client, answer } = await recover(transport, pid, offset, []);
      expect(answer.type).toBe(0);
      expect((answer.data as { sid: string }).sid).toBe(sid);
      expect(await call(client, 'in', { channelId: channel })).toEqual({ channel: false, lobby: withHook });
      const later = unique('later');
      expect(await call(sender, 'post', { channelId: channel, text: later })).toEqual({ ok: true });
      await flush(sender, client);
      expect(seen(client, missed)).toBe(false);
      expect(seen(client, later)).toBe(false);
      // The lobby packet is replayed only when the app's hook kept the room.
      expect(seen(client, `${missed}-lobby`)).toBe(withHook);
    });

    it('a user demoted by a new token alone (no override) loses the room on recovery', async () => {
      const channel = unique('secret');
      const missed = unique('missed');
      const { sender, pid, offset } = await aliceAway(transport, channel, {}, missed);
      const { client, answer } = await recover(transport, pid, offset, ['presence:read']);
      expect(answer.type).toBe(0);
      expect(await call(client, 'in', { channelId: channel })).toEqual({ channel: false, lobby: withHook });
      await flush(sender, client);
      expect(seen(client, missed)).toBe(false);
    });

    it('a user still allowed keeps the room and its missed packet; a revocation while connected then evicts it', async () => {
      const channel = unique('open');
      const missed = unique('missed');
      const { sender, pid, offset } = await aliceAway(transport, channel, {}, missed);
      const { client, answer } = await recover(transport, pid, offset, READER);
      expect(answer.type).toBe(0);
      await client.next((p) => p.type === 2 && (p.data as unknown[])[1] === missed);
      expect(await call(client, 'in', { channelId: channel })).toEqual({ channel: true, lobby: withHook });
      // The kept room is in room presence again, and leaves it with the eviction.
      const presence = t.app.get(PresenceService);
      await waitFor('alice back in the room\'s presence', () => presence.isInRoom('acme', 'alice', `channel:${channel}`));
      await moderation.setPermissions('acme', 'alice', []);
      expect(await call(client, 'in', { channelId: channel })).toEqual({ channel: false, lobby: withHook });
      await waitFor('alice out of the room\'s presence', async () => !(await presence.isInRoom('acme', 'alice', `channel:${channel}`)));
      const later = unique('later');
      expect(await call(sender, 'post', { channelId: channel, text: later })).toEqual({ ok: true });
      await flush(sender, client);
      expect(seen(client, later)).toBe(false);
    });

    it('a room joined with a stronger permission is re-checked with that permission, not channel:read', async () => {
      const channel = unique('staff');
      const missed = unique('missed');
      const { sender, pid, offset } = await aliceAway(transport, channel, { perms: ['channel:read', 'channel:moderate'], joinPermission: 'channel:moderate' }, missed);
      const { client, answer } = await recover(transport, pid, offset, READER);
      expect(answer.type).toBe(0);
      expect(await call(client, 'in', { channelId: channel })).toEqual({ channel: false, lobby: withHook });
      await flush(sender, client);
      expect(seen(client, missed)).toBe(false);
    });
  });
});
