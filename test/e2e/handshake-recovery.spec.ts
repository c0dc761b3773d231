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
import { WsPrincipal, WsPublic, type Principal } from '../../lib/index.js';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { startApp, type TestApp } from '../support/app.js';
import { Probe } from '../support/probe.gateway.js';
import { RAW_TRANSPORTS, RawEngineClient, type RawTransport, type SioPacket } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS.md case 10: connection-state recovery never skips authentication. The gateway asks for
 * `skipMiddlewares: true`; the library overrides it. A recovery attempt (the victim's `pid` and
 * `offset`) with a bad, expired or foreign token is refused, and the victim's missed packets and
 * rooms are never delivered to it: Socket.IO replays missed packets when the socket is created,
 * before any middleware, so the library holds them until the handshake has passed.
 */

@WebSocketGateway({ namespace: '/chat', connectionStateRecovery: { maxDisconnectionDuration: 60_000, skipMiddlewares: true } })
class RecoveryGateway implements OnGatewayConnection {
  @WebSocketServer() nsp!: Namespace;

  constructor(@Inject(Probe) private readonly probe: Probe) {}

  handleConnection(socket: Socket): void {
    this.probe.connections.push(socket.nsp.name);
    const principal = (socket.data as { principal: Principal }).principal;
    if (!socket.recovered) void socket.join(`inbox:${principal.userId}`);
    (socket.data as Record<string, unknown>).visits = ((socket.data as { visits?: number }).visits ?? 0) + 1;
  }

  /** Sends `text` to a user's inbox room (the victim's missed packet). */
  @WsPublic()
  @SubscribeMessage('mail')
  mail(@MessageBody() body: { to: string; text: string }) {
    this.nsp.to(`inbox:${body.to}`).emit('mail', body.text);
    return { ok: true };
  }

  @WsPublic()
  @SubscribeMessage('ev')
  ev(@WsPrincipal() principal: Principal, @ConnectedSocket() socket: Socket) {
    return { userId: principal.userId, recovered: socket.recovered, visits: (socket.data as { visits?: number }).visits };
  }
}

function isConnectAnswer(p: SioPacket): boolean {
  return p.nsp === '/chat' && (p.type === 0 || p.type === 4);
}

describe('handshake: connection-state recovery', () => {
  let t: TestApp;
  let gateway: RecoveryGateway;
  let lifecycle: ConnectionLifecycle;

  beforeAll(async () => {
    // The inbox room is not a TenantRooms room: the app's hook keeps a user's own inbox on recovery.
    t = await startApp({
      gateways: [RecoveryGateway],
      providers: [Probe],
      security: { recovery: { authorizeRoom: ({ principal, room }) => room === `inbox:${principal.userId}` } },
    });
    gateway = t.app.get(RecoveryGateway);
    lifecycle = t.app.get(ConnectionLifecycle);
  });
  afterEach(() => RawEngineClient.closeAll());
  afterAll(async () => { await t.close(); });

  /**
   * The victim connects, receives one packet (its offset), drops its transport, and then misses
   * a packet sent to its inbox. Returns its private session id and last offset.
   */
  async function victimWithMissedPacket(transport: RawTransport, secret: string): Promise<{ sid: string; pid: string; offset: string }> {
    const sender = await RawEngineClient.open(t.url, { transport: 'websocket' });
    expect((await sender.connect('/chat', { token: signToken({ sub: 'sender' }) })).type).toBe(0);
    const victim = await RawEngineClient.open(t.url, { transport });
    const answer = await victim.connect('/chat', { token: signToken({ sub: 'alice' }) });
    const { sid, pid } = answer.data as { sid: string; pid: string };
    expect(typeof pid).toBe('string');
    await sender.send('2/chat,1["mail",{"to":"alice","text":"hello"}]');
    const first = await victim.next((p) => p.type === 2);
    const offset = (first.data as string[])[2] as string;
    expect(typeof offset).toBe('string');
    await victim.close();
    await waitFor('the server to see the victim leave', () => !gateway.nsp.sockets.has(sid));
    await sender.send(`2/chat,2["mail",{"to":"alice","text":"${secret}"}]`);
    await sender.next((p) => p.type === 3 && p.id === 2);
    return { sid, pid, offset };
  }

  describe.each(RAW_TRANSPORTS)('over %s', (transport) => {
    const ATTEMPTS: Array<[string, () => string, string]> = [
      ['no token', () => '', 'UNAUTHORIZED'],
      ['a forged token', () => 'a.b.c', 'UNAUTHORIZED'],
      ["the victim's expired token", () => signToken({ sub: 'alice' }, { expiresInSeconds: -3600 }), 'TOKEN_EXPIRED'],
      ["another user's valid token", () => signToken({ sub: 'mallory' }), 'UNAUTHORIZED'],
      ['a valid token for the same user id in another tenant', () => signToken({ sub: 'alice', tenant: 'globex' }), 'UNAUTHORIZED'],
    ];

    it.each(ATTEMPTS)('refuses a recovery with %s, and replays nothing to it', async (_name, token, code) => {
      const secret = `secret-${Math.random().toString(36).slice(2)}`;
      const { pid, offset } = await victimWithMissedPacket(transport, secret);
      const attacker = await RawEngineClient.open(t.url, { transport });
      const tokenValue = token();
      await attacker.send(`0/chat,${JSON.stringify({ ...(tokenValue !== '' ? { token: tokenValue } : {}), pid, offset })}`);
      const answer = await attacker.next(isConnectAnswer);
      expect(answer.type).toBe(4);
      expect(answer.data).toEqual({ message: 'Connection refused', data: { code } });
      expect(attacker.history.filter((p) => p.type === 2)).toEqual([]);
      expect(attacker.history.map((p) => p.raw).join('\n')).not.toContain(secret);
    });

    it('recovers the same user with a valid token: same socket id, missed packet replayed, app data kept', async () => {
      const secret = `secret-${Math.random().toString(36).slice(2)}`;
      const { sid, pid, offset } = await victimWithMissedPacket(transport, secret);
      const victim = await RawEngineClient.open(t.url, { transport });
      await victim.send(`0/chat,${JSON.stringify({ token: signToken({ sub: 'alice' }), pid, offset })}`);
      const answer = await victim.next(isConnectAnswer);
      expect(answer.type).toBe(0);
      expect((answer.data as { sid: string }).sid).toBe(sid);
      const replay = await victim.next((p) => p.type === 2);
      expect((replay.data as unknown[])[1]).toBe(secret);
      await victim.send('2/chat,9["ev",{}]');
      const ack = await victim.next((p) => p.type === 3 && p.id === 9);
      expect(ack.data).toEqual([{ userId: 'alice', recovered: true, visits: 2 }]);
    });

    it('never gives a live socket id to a second socket (a recovery while the first is connected is a fresh connection)', async () => {
      const first = await RawEngineClient.open(t.url, { transport });
      const answer = await first.connect('/chat', { token: signToken({ sub: 'alice' }) });
      const { sid, pid } = answer.data as { sid: string; pid: string };
      // A packet gives an offset; then a second connection claims the live session.
      const sender = await RawEngineClient.open(t.url, { transport: 'websocket' });
      expect((await sender.connect('/chat', { token: signToken({ sub: 'sender' }) })).type).toBe(0);
      await sender.send('2/chat,1["mail",{"to":"alice","text":"x"}]');
      const offset = ((await first.next((p) => p.type === 2)).data as string[])[2] as string;
      const second = await RawEngineClient.open(t.url, { transport });
      await second.send(`0/chat,${JSON.stringify({ token: signToken({ sub: 'alice' }), pid, offset })}`);
      const second0 = await second.next(isConnectAnswer);
      expect(second0.type).toBe(0);
      expect((second0.data as { sid: string }).sid).not.toBe(sid);
      expect(gateway.nsp.sockets.has(sid)).toBe(true);
      expect(lifecycle.connectionCount).toBeGreaterThanOrEqual(2);
    });
  });
});
