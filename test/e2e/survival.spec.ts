import { BadRequestException } from '@nestjs/common';
import { ConnectedSocket, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { throwError } from 'rxjs';
import type { Socket as ServerSocket } from 'socket.io';
import type { Socket } from 'socket.io-client';
import { WsPublic } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { closeAllClients, connected, TRANSPORTS, type Transport } from '../support/clients.js';
import { RawEngineClient, type SioPacket } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';

const SECRET_DETAIL = 'secret-detail-7f3a';
let handled = 0;

@WebSocketGateway({ namespace: '/chat' })
@WsPublic()
class SurvivalGateway {
  @SubscribeMessage('ping')
  ping(@ConnectedSocket() _socket: ServerSocket) {
    handled += 1;
    return { ok: true };
  }

  @SubscribeMessage('throws')
  throws() {
    throw new Error(`database said ${SECRET_DETAIL}`);
  }

  @SubscribeMessage('rejects')
  async rejects() {
    await Promise.resolve();
    throw new TypeError(`async ${SECRET_DETAIL}`);
  }

  @SubscribeMessage('throws-string')
  throwsString() {
    throw SECRET_DETAIL as unknown as Error;
  }

  @SubscribeMessage('throws-http')
  throwsHttp() {
    throw new BadRequestException(SECRET_DETAIL);
  }

  @SubscribeMessage('throws-ws')
  throwsWs() {
    throw new WsException(SECRET_DETAIL);
  }

  @SubscribeMessage('errors-observable')
  erroring() {
    return throwError(() => new Error(SECRET_DETAIL));
  }
}

type Ack = { ok?: boolean; error?: { code: string; message: string } };

describe('survival (THREATS 19, 23, 28): odd input never crashes the process or leaves an ack hanging', () => {
  let t: TestApp;
  const logger = new CapturingLogger();
  beforeAll(async () => {
    t = await startApp({ gateways: [SurvivalGateway], logger, security: { rateLimit: { messageLimit: 0, handshakesPerAddress: 0 } } });
  });
  afterEach(() => {
    closeAllClients();
    RawEngineClient.closeAll();
  });
  afterAll(async () => { await t.close(); });

  const open = (transport: Transport, sub = 'alice'): Promise<Socket> =>
    connected(t.url, '/chat', { transports: [transport], auth: { token: signToken({ sub }) } });

  async function rawClient(transport: Transport): Promise<RawEngineClient> {
    const raw = await RawEngineClient.open(t.url, { transport });
    expect((await raw.connect('/chat', { token: signToken({ sub: 'mallory' }) })).type).toBe(0);
    return raw;
  }

  const ackOf = (raw: RawEngineClient, id: number): Promise<SioPacket> => raw.next((p) => p.type === 3 && p.id === id);

  describe.each(TRANSPORTS)('over %s', (transport) => {
    // `error` is the one reserved name Socket.IO's parser lets through: it would reach the
    // socket's `error` listeners (meant for server-side errors) and its ack would never be answered.
    it.each([
      ['error', 'BAD_REQUEST'],
      ['__proto__', 'NOT_FOUND'],
      ['constructor', 'NOT_FOUND'],
      ['hasOwnProperty', 'NOT_FOUND'],
      ['no-such-event', 'NOT_FOUND'],
    ])('answers the event name %j with %s through its ack; no handler runs', async (name, code) => {
      const control = await open(transport, 'control');
      const raw = await rawClient(transport);
      const before = handled;
      await raw.send(`2/chat,7${JSON.stringify([name, { x: 1 }])}`);
      expect((await ackOf(raw, 7)).data).toEqual([{ error: { code, message: code === 'BAD_REQUEST' ? 'Bad request' : 'Not found' } }]);
      // Without an ack, the same events are dropped silently; the connection stays usable.
      await raw.send(`2/chat,${JSON.stringify([name, { x: 1 }])}`, '2/chat,8["ping"]');
      expect((await ackOf(raw, 8)).data).toEqual([{ ok: true }]);
      expect(handled).toBe(before + 1);
      expect(await control.emitWithAck('ping')).toEqual({ ok: true });
    });

    it('answers an ack id past 2^53 like any other', async () => {
      const raw = await rawClient(transport);
      await raw.send('2/chat,9007199254740993["ping"]');
      expect((await raw.next((p) => p.type === 3)).data).toEqual([{ ok: true }]);
    });

    it('answers a numeric event name with NOT_FOUND', async () => {
      const raw = await rawClient(transport);
      await raw.send('2/chat,9[12345,{"x":1}]');
      expect((await ackOf(raw, 9)).data).toEqual([{ error: { code: 'NOT_FOUND', message: 'Not found' } }]);
    });

    it.each([
      ['connect', '2/chat,["connect"]'],
      ['disconnect', '2/chat,["disconnect"]'],
      ['newListener', '2/chat,["newListener","ping"]'],
      ['removeListener', '2/chat,["removeListener","ping"]'],
      ['disconnecting', '2/chat,["disconnecting"]'],
      ['an object as the name', '2/chat,[{"toString":"x"},1]'],
      ['null as the name', '2/chat,[null]'],
      ['no name at all', '2/chat,[]'],
      ['a non-array payload', '2/chat,{"0":"ping"}'],
      ['broken JSON', '2/chat,["ping",{'],
      ['an unknown packet type', '9/chat,["ping"]'],
      ['a binary packet with a malformed count', '5-/chat,["ping"]'],
    ])('closes the connection on %s (the parser refuses it); the process and other clients carry on', async (_name, packet) => {
      const control = await open(transport, 'control');
      const raw = await rawClient(transport);
      const before = handled;
      await raw.send(packet);
      await raw.closed;
      expect(handled).toBe(before);
      expect(await control.emitWithAck('ping')).toEqual({ ok: true });
      const again = await open(transport, 'mallory');
      expect(await again.emitWithAck('ping')).toEqual({ ok: true });
    });

    it.each(['throws', 'rejects', 'throws-string', 'errors-observable'])('resolves the ack of a handler that %s with INTERNAL; the detail stays in the server log', async (event) => {
      const socket = await open(transport);
      const ack = (await socket.timeout(5000).emitWithAck(event, {})) as Ack;
      expect(ack).toEqual({ error: { code: 'INTERNAL', message: 'Internal error' } });
      expect(JSON.stringify(ack)).not.toContain(SECRET_DETAIL);
      // The detail is for the server log only.
      if (event !== 'throws-string') expect(logger.matching(SECRET_DETAIL).length).toBeGreaterThan(0);
      expect(await socket.emitWithAck('ping')).toEqual({ ok: true });
    });

    it.each([['throws-http', 'VALIDATION_FAILED'], ['throws-ws', 'BAD_REQUEST']])('maps %s to a coded answer (%s), never its text', async (event, code) => {
      const socket = await open(transport);
      const ack = (await socket.timeout(5000).emitWithAck(event, {})) as Ack;
      expect(ack.error?.code).toBe(code);
      expect(JSON.stringify(ack)).not.toContain(SECRET_DETAIL);
    });

    it('handles a storm of mixed garbage on many connections and stays up', async () => {
      const control = await open(transport, 'control');
      const garbage = ['2/chat,["error"]', '2/chat,[1]', '2/chat,3["__proto__"]', '2/chat,["throws"]', '2/chat,4["rejects"]', '2/chat,["nope",{"__proto__":{"polluted":1}}]'];
      const raws = await Promise.all(Array.from({ length: 5 }, () => rawClient(transport)));
      for (const raw of raws) await raw.send(...garbage, ...garbage);
      for (const raw of raws) {
        await ackOf(raw, 3);
        await ackOf(raw, 4);
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(await control.emitWithAck('ping')).toEqual({ ok: true });
    });
  });
});
