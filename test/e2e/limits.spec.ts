import { request } from 'node:http';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import type { Namespace, Socket as ServerSocket } from 'socket.io';
import type { Socket } from 'socket.io-client';
import { WebSocket } from 'ws';
import { WsPublic, WsSkipThrottle, WsThrottle } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected, TRANSPORTS, type Transport } from '../support/clients.js';
import { engineUrl, RawEngineClient } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/** Handler calls per user and event: what really ran, whatever the client was told. */
const calls = new Map<string, number>();
const count = (user: string, event: string) => calls.set(`${user}:${event}`, (calls.get(`${user}:${event}`) ?? 0) + 1);
const callsOf = (user: string, event: string) => calls.get(`${user}:${event}`) ?? 0;

const userOf = (socket: ServerSocket) => (socket.data as { principal: { userId: string } }).principal.userId;

@WebSocketGateway({ namespace: '/chat' })
@WsPublic()
class LimitsGateway {
  @WebSocketServer()
  server!: Namespace;

  @SubscribeMessage('ping')
  ping(@ConnectedSocket() socket: ServerSocket) {
    count(userOf(socket), 'ping');
    return { ok: true };
  }

  @SubscribeMessage('echo-size')
  size(@ConnectedSocket() socket: ServerSocket, @MessageBody() body: unknown) {
    count(userOf(socket), 'echo-size');
    return { ok: true, bytes: JSON.stringify(body).length };
  }

  @SubscribeMessage('bin')
  bin(@ConnectedSocket() socket: ServerSocket, @MessageBody() body: unknown) {
    count(userOf(socket), 'bin');
    return { ok: true, binary: Buffer.isBuffer(body) ? body.length : -1 };
  }

  @WsThrottle({ limit: 2, ttl: 10_000 })
  @SubscribeMessage('costly')
  costly(@ConnectedSocket() socket: ServerSocket) {
    count(userOf(socket), 'costly');
    return { ok: true };
  }

  @WsSkipThrottle()
  @SubscribeMessage('free')
  free(@ConnectedSocket() socket: ServerSocket) {
    count(userOf(socket), 'free');
    return { ok: true };
  }
}

type Ack = { ok?: boolean; bytes?: number; binary?: number; error?: { code: string; retryAfterMs?: number } };

const LIMIT = 20;
/** `transport.maxBufferedBytes` of the test app. */
const BOUND = 256 * 1024;
const STRIKES = 3;

describe('limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startApp({
      gateways: [LimitsGateway],
      security: {
        // strikeGraceMs 0: every refusal is a strike (the strict setting; the grace has its own suite, limits-burst).
        rateLimit: { messageLimit: LIMIT, messageWindowMs: 60_000, strikes: STRIKES, strikeGraceMs: 0, handshakesPerAddress: 0 },
        transport: { maxBufferedBytes: BOUND, maxAttachments: 2 },
      },
    });
  });
  afterEach(() => {
    closeAllClients();
    RawEngineClient.closeAll();
    calls.clear();
  });
  afterAll(async () => { await t.close(); });

  let users = 0;
  /** A fresh user per test: counters are per user and the window outlives a test. */
  const freshUser = () => `user-${++users}`;
  const open = (transport: Transport, sub: string): Promise<Socket> =>
    connected(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub }) } });

  describe.each(TRANSPORTS)('size (THREATS 22) over %s', (transport) => {
    it('accepts a message just under the 64 KB cap', async () => {
      const socket = await open(transport, freshUser());
      const ack = (await socket.emitWithAck('echo-size', { blob: 'x'.repeat(60 * 1024) })) as Ack;
      expect(ack.ok).toBe(true);
    });

    it('refuses a message over the cap (polling: HTTP 413; websocket: closed) while a control client keeps working', async () => {
      const control = await open(transport, freshUser());
      const attacker = freshUser();
      const raw = await RawEngineClient.open(t.url, { transport });
      expect((await raw.connect('/chat', { token: signToken({ sub: attacker }) })).type).toBe(0);
      const status = await raw.sendEngine(`42/chat,["echo-size",{"blob":"${'x'.repeat(70 * 1024)}"}]`);
      if (transport === 'polling') expect(status).toBe(413);
      else expect(await raw.closed).toBe('transport close');
      expect(await control.emitWithAck('ping')).toEqual({ ok: true });
      expect(callsOf(attacker, 'echo-size')).toBe(0);
    });

    it('closes a socket.io-client that sends over the cap, without running the handler', async () => {
      const user = freshUser();
      const socket = await open(transport, user);
      const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      socket.emit('echo-size', { blob: 'x'.repeat(70 * 1024) });
      if (transport === 'websocket') expect(await gone).toBe('transport close');
      else {
        // Over polling the POST is refused (413) and the client treats it as a transport error.
        expect(['transport error', 'transport close']).toContain(await gone);
      }
      expect(callsOf(user, 'echo-size')).toBe(0);
    });
  });

  describe.each(TRANSPORTS)('binary attachments (THREATS 23) over %s', (transport) => {
    it('accepts well-formed binary events up to the attachment cap (2 here)', async () => {
      const socket = await open(transport, freshUser());
      expect(await socket.emitWithAck('bin', Buffer.from([1, 2, 3]))).toEqual({ ok: true, binary: 3 });
      expect(await socket.emitWithAck('bin', [Buffer.from([1]), Buffer.from([2, 3])])).toEqual({ ok: true, binary: -1 });
    });

    it.each([
      ['more attachments than allowed (3)', ['453-/chat,1["bin",{"_placeholder":true,"num":0}]', 'BIN', 'BIN', 'BIN']],
      ['more attachments than the parser default (11)', ['4511-/chat,1["bin",{"_placeholder":true,"num":0}]']],
      ['a huge attachment count', ['45999999999-/chat,1["bin",{"_placeholder":true,"num":0}]']],
      ['a malformed attachment count', ['45x-/chat,1["bin",{"_placeholder":true,"num":0}]']],
      ['a placeholder pointing past the attachments', ['451-/chat,1["bin",{"_placeholder":true,"num":5}]', 'BIN']],
      ['a placeholder with a non-numeric index', ['451-/chat,1["bin",{"_placeholder":true,"num":"0"}]', 'BIN']],
      ['a binary frame with no binary packet before it', ['BIN']],
      ['a text packet while attachments are expected', ['452-/chat,1["bin",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]', 'BIN', '42/chat,["ping"]']],
    ])('closes the connection on %s; no handler runs; the control client keeps working', async (_name, frames) => {
      const control = await open(transport, freshUser());
      const attacker = freshUser();
      const raw = await RawEngineClient.open(t.url, { transport });
      expect((await raw.connect('/chat', { token: signToken({ sub: attacker }) })).type).toBe(0);
      await sendFrames(raw, transport, frames);
      await raw.closed;
      expect(callsOf(attacker, 'bin')).toBe(0);
      expect(callsOf(attacker, 'ping')).toBe(0);
      expect(await control.emitWithAck('ping')).toEqual({ ok: true });
    });
  });

  describe.each(TRANSPORTS)('message flood (THREATS 24) over %s', (transport) => {
    it('answers RATE_LIMITED with retryAfterMs past the per-user limit, then disconnects after the strikes', async () => {
      const user = freshUser();
      const control = await open(transport, freshUser());
      const socket = await open(transport, user);
      for (let i = 0; i < LIMIT; i++) expect(await socket.emitWithAck('ping')).toEqual({ ok: true });
      for (let strike = 1; strike <= STRIKES; strike++) {
        const ack = (await socket.emitWithAck('ping')) as Ack;
        expect(ack.error?.code).toBe('RATE_LIMITED');
        expect(ack.error?.retryAfterMs).toBeGreaterThanOrEqual(1000);
        expect(ack.error?.retryAfterMs).toBeLessThanOrEqual(60_000);
        expect(await control.emitWithAck('ping')).toEqual({ ok: true });
      }
      const told: unknown[] = [];
      socket.on('exception', (body) => told.push(body));
      const gone = new Promise<string>((resolve) => socket.once('disconnect', resolve));
      socket.emit('ping');
      expect(await gone).toBe('io server disconnect');
      // The refusal itself (no ack: as an event), then the notice of the close.
      expect(told).toEqual([
        { error: { code: 'RATE_LIMITED', message: 'Rate limit exceeded', retryAfterMs: expect.any(Number) } },
        { error: { code: 'RATE_LIMITED', message: 'Rate limit exceeded' } },
      ]);
      expect(callsOf(user, 'ping')).toBe(LIMIT);
      expect(await control.emitWithAck('ping')).toEqual({ ok: true });
    });

    it('counts every socket of a user together: more sockets buy no more messages', async () => {
      const user = freshUser();
      const control = await open(transport, freshUser());
      const sockets = await Promise.all([open(transport, user), open(transport, user), open(transport, user)]);
      for (let i = 0; i < LIMIT; i++) expect(await sockets[i % 3].emitWithAck('ping')).toEqual({ ok: true });
      for (const socket of sockets) expect(((await socket.emitWithAck('ping')) as Ack).error?.code).toBe('RATE_LIMITED');
      expect(callsOf(user, 'ping')).toBe(LIMIT);
      expect(await control.emitWithAck('ping')).toEqual({ ok: true });
    });

    it('a burst from several sockets runs at most the limit; the floods are cut off; the control client keeps its answers', async () => {
      const user = freshUser();
      const controlUser = freshUser();
      const control = await open(transport, controlUser);
      const sockets = await Promise.all([open(transport, user), open(transport, user)]);
      const gone = sockets.map((s) => new Promise<void>((resolve) => s.once('disconnect', () => resolve())));
      for (let i = 0; i < 60; i++) for (const socket of sockets) socket.emit('ping');
      const controlAnswers = await Promise.all(Array.from({ length: 5 }, () => control.emitWithAck('ping')));
      expect(controlAnswers).toEqual(Array.from({ length: 5 }, () => ({ ok: true })));
      await Promise.all(gone);
      // Messages accepted before the penalty still run (the close waits for them): exactly the budget.
      expect(callsOf(user, 'ping')).toBe(LIMIT);
      expect(callsOf(controlUser, 'ping')).toBe(5);
    });

    it('applies a per-event @WsThrottle with its own counter, and exempts @WsSkipThrottle', async () => {
      const user = freshUser();
      const socket = await open(transport, user);
      expect(await socket.emitWithAck('costly')).toEqual({ ok: true });
      expect(await socket.emitWithAck('costly')).toEqual({ ok: true });
      expect(((await socket.emitWithAck('costly')) as Ack).error?.code).toBe('RATE_LIMITED');
      // The shared budget is untouched by the event's own counter; an accepted message resets the strikes.
      expect(await socket.emitWithAck('ping')).toEqual({ ok: true });
      for (let i = 0; i < STRIKES; i++) expect(((await socket.emitWithAck('costly')) as Ack).error?.code).toBe('RATE_LIMITED');
      expect(socket.connected).toBe(true);
      for (let i = 0; i < LIMIT + 10; i++) expect(await socket.emitWithAck('free')).toEqual({ ok: true });
      expect(callsOf(user, 'costly')).toBe(2);
      expect(callsOf(user, 'free')).toBe(LIMIT + 10);
    });
  });

  describe('slow consumer (THREATS 25)', () => {
    it.each(TRANSPORTS)('drops a %s client that stops reading once its queue passes the bound; a reading client of the same stream stays', async (transport) => {
      const readerUser = freshUser();
      const reader = await open(transport, readerUser);
      let received = 0;
      reader.on('news', () => { received += 1; });
      const readerServer = await serverSocketOf(t, readerUser, async () => undefined);
      const slowUser = freshUser();
      const slow = await serverSocketOf(t, slowUser, () => openStalled(t, transport, signToken({ sub: slowUser })));
      const closed = new Promise<string>((resolve) => slow.once('disconnect', resolve));
      const chunk = 'y'.repeat(16 * 1024);
      let peak = 0;
      let sent = 0;
      // One message per turn of the event loop, up to 32 MB: far past any socket buffer.
      while (slow.connected && sent < 2048) {
        slow.emit('news', chunk);
        readerServer.emit('news', chunk);
        sent += 1;
        peak = Math.max(peak, queuedBytes(slow));
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(await closed).toBe('forced close');
      expect(sent).toBeLessThan(2048);
      // The server never held more than the bound plus one message for the stalled client.
      expect(peak).toBeLessThanOrEqual(BOUND + chunk.length + 64);
      // The client that reads got every message and was never dropped.
      await waitFor(`reader received ${sent} messages`, () => received === sent);
      expect(readerServer.connected).toBe(true);
      expect(await reader.emitWithAck('ping')).toEqual({ ok: true });
    });
  });
});

/** Sends frames as given; `BIN` is a 3-byte binary attachment (a `b`-base64 packet over polling). */
async function sendFrames(raw: RawEngineClient, transport: Transport, frames: string[]): Promise<void> {
  if (transport === 'polling') {
    await raw.sendPollingBody(frames.map((f) => (f === 'BIN' ? `b${Buffer.from([1, 2, 3]).toString('base64')}` : f)).join('\x1e'));
    return;
  }
  await raw.sendEngine(...frames.map((frame) => (frame === 'BIN' ? Buffer.from([1, 2, 3]) : frame)));
}

/** Opens a connection for `sub`, resolving with the server's socket for that user once it exists. */
async function serverSocketOf(t: TestApp, sub: string, openClient: () => Promise<void>): Promise<ServerSocket> {
  await openClient();
  const nsp = t.app.get(LimitsGateway).server;
  let found: ServerSocket | undefined;
  await waitFor(`server socket of ${sub}`, () => {
    found = [...nsp.sockets.values()].find((s) => userOf(s) === sub);
    return found !== undefined;
  });
  return found as ServerSocket;
}

/** Bytes queued in Engine.IO for this socket's connection, plus what `ws` buffers. */
function queuedBytes(socket: ServerSocket): number {
  const conn = socket.conn as unknown as { writeBuffer: { data?: unknown }[]; transport: { socket?: { bufferedAmount?: number } } };
  let bytes = 0;
  for (const packet of conn.writeBuffer) bytes += typeof packet.data === 'string' ? packet.data.length : 0;
  return bytes + (conn.transport.socket?.bufferedAmount ?? 0);
}

/**
 * A client that connects to `/chat` and then stops reading: a `ws` socket paused after CONNECT,
 * or a polling session that never issues another GET.
 */
async function openStalled(t: TestApp, transport: Transport, token: string): Promise<void> {
  if (transport === 'websocket') {
    const ws = new WebSocket(engineUrl(t.url, 'websocket'));
    stalled.add(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', (data) => {
        const text = String(data);
        if (text.startsWith('0')) ws.send(`40/chat,${JSON.stringify({ token })}`);
        if (text.startsWith('40/chat,')) {
          ws.pause();
          resolve();
        }
      });
    });
    return;
  }
  const open = await httpText('GET', engineUrl(t.url, 'polling'));
  const sid = (JSON.parse(open.slice(1)) as { sid: string }).sid;
  const url = engineUrl(t.url, 'polling', {}, sid);
  await httpText('POST', url, `40/chat,${JSON.stringify({ token })}`);
  // Never polls again: everything for it stays queued on the server.
}

const stalled = new Set<WebSocket>();
afterEach(() => {
  for (const ws of stalled) ws.terminate();
  stalled.clear();
});

function httpText(method: string, url: string, body?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: body !== undefined ? { 'content-type': 'text/plain;charset=UTF-8' } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
    req.end(body);
  });
}
