import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io-client';
import { UsePipes } from '@nestjs/common';
import { WsAuthorize, WsPublic, WsValidationPipe } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect } from '../support/clients.js';
import { ChannelDto } from '../support/dtos.js';
import { TestMetrics, type CollectedPoint } from '../support/metrics-reader.js';
import { signToken } from '../support/tokens.js';

@WebSocketGateway({ namespace: '/room' })
class RoomGateway {
  @WsPublic()
  @SubscribeMessage('ping')
  ping() {
    return { ok: true };
  }

  @WsAuthorize('secret:read')
  @SubscribeMessage('secret')
  secret() {
    return { ok: true };
  }

  @WsPublic()
  @UsePipes(new WsValidationPipe())
  @SubscribeMessage('join')
  join(@MessageBody() body: ChannelDto) {
    return { ok: true, channelId: body.channelId };
  }
}

/** What an attribute may be: the closed sets the library documents (plus the gateway's own names). */
const ALLOWED_VALUES = new Set([
  '/', '/room', '(other)', 'ping', 'secret', 'join', 'auth:refresh',
  'accepted', 'refused', 'websocket', 'polling', 'sse', 'webtransport', 'other',
  'UNAUTHORIZED', 'TOKEN_EXPIRED', 'ORIGIN_REJECTED', 'CONNECTION_LIMIT', 'BANNED', 'SERVICE_UNAVAILABLE',
  'FORBIDDEN', 'VALIDATION_FAILED', 'RATE_LIMITED', 'NOT_FOUND', 'BAD_REQUEST', 'INTERNAL',
  'client', 'transport_close', 'transport_error', 'ping_timeout', 'parse_error', 'server', 'shutdown', 'banned', 'moderation', 'token_expired', 'rate_limited',
  'message', 'handshake', 'online', 'offline',
]);

function seriesOf(points: readonly CollectedPoint[]): Set<string> {
  return new Set(points.map((p) => `${p.name}${JSON.stringify(Object.entries(p.attributes).sort())}`));
}

/**
 * Cardinality (THREATS 70): attributes come from closed sets, so thousands of distinct users,
 * tenants, event names, namespaces, payloads and credentials add no series.
 */
describe('metrics: bounded cardinality under thousands of distinct users, events and inputs', () => {
  let app: TestApp;
  const metrics = new TestMetrics();

  beforeAll(async () => {
    app = await startApp({
      gateways: [RoomGateway],
      security: { metrics: { meterProvider: metrics.provider }, presence: { flapWindowMs: 0 }, connections: { maxPerUser: 10, maxTotal: 100_000 }, rateLimit: { messageLimit: 1_000_000, handshakesPerAddress: 0 } },
    });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => {
    await app.close();
    await metrics.shutdown();
  });

  /** One wave: `users` distinct users of distinct tenants, each with a distinct event name and payload, plus refused handshakes. */
  async function wave(offset: number, users: number): Promise<void> {
    const batch = 50;
    for (let start = 0; start < users; start += batch) {
      await Promise.all(Array.from({ length: Math.min(batch, users - start) }, async (_, k) => {
        const i = offset + start + k;
        const token = signToken({ sub: `user-${i}-${'x'.repeat(i % 7)}`, tenant: `tenant-${i}`, perms: [] });
        const outcome = await connect(app.url, '/room', { transports: ['websocket'], auth: { token }, query: { trace: `q-${i}` }, timeout: 30_000 });
        if (!outcome.connected) throw new Error(`user ${i} was refused: ${JSON.stringify(outcome.error?.data)}`);
        const socket: Socket = outcome.socket;
        socket.emit(`fire-and-forget-${i}`, `text-${i}`);
        await Promise.all([
          socket.emitWithAck('ping', { n: i, note: `payload-${i}` }),
          socket.emitWithAck('secret', { n: i }),
          socket.emitWithAck('join', { channelId: i % 2 === 0 ? `chan-${i}` : { nested: i } }),
          socket.emitWithAck(`event-${i}-${Math.random().toString(36).slice(2)}`, { n: i }),
        ]);
        // Refused handshakes with distinct inputs: garbage credentials, undeclared namespaces.
        await connect(app.url, `/ns-${i}`, { transports: ['websocket'], auth: { token: `garbage.${i}.token` } });
        if (i % 4 === 0) await connect(app.url, '/room', { transports: ['websocket'], auth: { token: signToken({ sub: `late-${i}`, tenant: `t-${i}`, perms: [] }, { expiresInSeconds: -60 }) } });
        socket.disconnect();
      }));
    }
  }

  it('2,000 more distinct users, tenants, event names and inputs add no series; every attribute value is from a closed set', async () => {
    await wave(0, 40);
    const small = await metrics.points();
    const before = seriesOf(small);

    await wave(1000, 2000);
    const large = await metrics.points();
    const after = seriesOf(large);

    expect([...after].filter((s) => !before.has(s))).toEqual([]);
    expect(after.size).toBe(before.size);
    // A bound that holds whatever the traffic: instruments × declared names × codes.
    expect(after.size).toBeLessThan(120);
    const values = new Set(large.flatMap((p) => Object.values(p.attributes).map(String)));
    expect([...values].filter((v) => !ALLOWED_VALUES.has(v))).toEqual([]);
    // The traffic was counted, not dropped.
    const received = large.filter((p) => p.name === 'realtime_security.messages').reduce((n, p) => n + p.value, 0);
    expect(received).toBe(5 * 2040);
    const other = large.find((p) => p.name === 'realtime_security.messages' && p.attributes.namespace === '/room' && p.attributes.event === '(other)');
    expect(other?.value).toBe(2 * 2040);
  }, 600_000);
});
