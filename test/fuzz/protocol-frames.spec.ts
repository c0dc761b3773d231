import { Inject, Injectable, UsePipes } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, type OnGatewayConnection, type OnGatewayDisconnect, type OnGatewayInit } from '@nestjs/websockets';
import fc from 'fast-check';
import type { Namespace, Socket as ServerSocket } from 'socket.io';
import type { Socket } from 'socket.io-client';
import { WsPublic, WsSkipThrottle, WsValidationPipe } from '../../lib/index.js';
import { RawEngineClient, type SioPacket } from '../../lib/cli/raw-engine.client.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connected } from '../support/clients.js';
import { SendDto } from '../support/dtos.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';
import { badAuth, frameSequence, rawFrame, type FuzzFrame } from './frame.arbitraries.js';

/**
 * Property-based fuzzing of a live secured server with generated and mutated Engine.IO /
 * Socket.IO frames, over raw websocket and polling, authenticated and not. For every case:
 * the process raises no uncaught error, an ack asked for by a well-formed event comes back (or
 * the server closes that connection), a polling POST is answered with 200/400/413, garbage never
 * authenticates, and a control client of another user keeps getting its acks.
 *
 * `FUZZ_RUNS` sets the cases per property (default 500: 2,000 per run); `FUZZ_SEED` replays one.
 */
const RUNS = Number.parseInt(process.env.FUZZ_RUNS ?? '500', 10);
const SEED = process.env.FUZZ_SEED !== undefined ? Number.parseInt(process.env.FUZZ_SEED, 10) : undefined;
const ACK_TIMEOUT_MS = 3000;
/** Jest's limit per property: generous (a case takes a few ms; a busy 2-core machine, more). */
const PROPERTY_TIMEOUT_MS = 60_000 + RUNS * 100;
const FUZZ_USERS = 32;

@Injectable()
class FuzzRecorder {
  /** Namespaces of every connection the app accepted, fuzz and control alike. */
  readonly connections: string[] = [];
  /** Sockets of `/chat` open right now. */
  open = 0;
}

@WebSocketGateway({ namespace: '/chat' })
class FuzzGateway implements OnGatewayConnection, OnGatewayDisconnect, OnGatewayInit {
  constructor(@Inject(FuzzRecorder) private readonly recorder: FuzzRecorder) {}

  afterInit(nsp: Namespace): void {
    nsp.server.of('/').on('connection', () => this.recorder.connections.push('/'));
  }

  handleConnection(socket: ServerSocket): void {
    this.recorder.connections.push(socket.nsp.name);
    this.recorder.open += 1;
  }

  handleDisconnect(): void {
    this.recorder.open -= 1;
  }

  @WsPublic()
  @SubscribeMessage('echo')
  echo(@MessageBody() body: unknown) {
    return { ok: true, type: typeof body };
  }

  @WsPublic()
  @UsePipes(new WsValidationPipe())
  @SubscribeMessage('send')
  send(@MessageBody() dto: SendDto) {
    return { ok: true, length: dto.text.length };
  }

  @WsPublic()
  @SubscribeMessage('boom')
  boom() {
    throw new Error('a handler that throws');
  }

  @WsPublic()
  @WsSkipThrottle()
  @SubscribeMessage('control')
  control(@ConnectedSocket() _socket: ServerSocket, @MessageBody() body: { n?: unknown }) {
    return { ok: true, n: body?.n };
  }
}

describe('fuzzing the protocol of a live secured server', () => {
  let t: TestApp;
  let recorder: FuzzRecorder;
  let control: Socket;
  const tokens = Array.from({ length: FUZZ_USERS }, (_, i) => signToken({ sub: `fuzz-${i}`, perms: [] }));
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => { uncaught.push(error); };
  let controlCalls = 0;

  beforeAll(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    t = await startApp({
      gateways: [FuzzGateway],
      providers: [FuzzRecorder],
      security: {
        connections: { maxPerUser: 10 },
        // Thousands of handshakes from 127.0.0.1 are the point here, not a flood to refuse.
        rateLimit: { handshakesPerAddress: 0, messageLimit: 1000 },
      },
    });
    recorder = t.app.get(FuzzRecorder);
    control = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'control' }) } });
  });

  afterAll(async () => {
    closeAllClients();
    // Let the server finish the control socket's close handshake before it shuts down.
    await waitFor('every /chat socket closed on the server', () => recorder.open === 0);
    await t.close();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });

  /** The control client of another user still gets its ack, on the same socket as at the start. */
  async function controlServed(): Promise<void> {
    const n = ++controlCalls;
    const answer = (await control.timeout(ACK_TIMEOUT_MS).emitWithAck('control', { n })) as { ok?: boolean; n?: number };
    expect(answer).toEqual({ ok: true, n });
    expect(control.connected).toBe(true);
    expect(uncaught).toEqual([]);
  }

  /** Opens a raw connection authenticated on `/chat` (retrying a slot not yet released). */
  async function authenticated(transport: 'websocket' | 'polling', token: string): Promise<RawEngineClient> {
    for (let attempt = 0; ; attempt++) {
      const client = await RawEngineClient.open({ url: t.url, path: '/socket.io/', transport, timeoutMs: ACK_TIMEOUT_MS });
      if ('refused' in client) throw new Error(`engine handshake refused with HTTP ${client.status}`);
      const answer = await client.connect('/chat', { token });
      if (answer?.type === 0) return client;
      await client.end();
      const code = (answer?.data as { data?: { code?: string } } | undefined)?.data?.code;
      if (code !== 'CONNECTION_LIMIT' || attempt > 100) throw new Error(`authenticated CONNECT failed: ${JSON.stringify(answer)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Every ack asked for comes back, or the connection was closed, or the socket left `/chat`
   * (a generated DISCONNECT packet, or the server dropping it): nothing hangs on a live socket.
   */
  async function acksOrClose(client: RawEngineClient, frames: readonly FuzzFrame[]): Promise<void> {
    for (const frame of frames) {
      if (frame.kind !== 'acked') continue;
      const ack = await client.next((p: SioPacket) => p.type === 3 && p.nsp === '/chat' && p.id === frame.id, ACK_TIMEOUT_MS);
      if (ack !== null || client.isClosed) continue;
      // Is the socket still on /chat? If it answers a probe, the missing ack really hung.
      const probeId = 3_000_000_000;
      await client.send(`2/chat,${probeId}["echo"]`);
      const alive = await client.next((p: SioPacket) => p.type === 3 && p.nsp === '/chat' && p.id === probeId, ACK_TIMEOUT_MS);
      if (alive !== null) throw new Error(`no ack for ${frame.frame.slice(0, 200)} within ${ACK_TIMEOUT_MS} ms, while the socket still answers on /chat`);
      return;
    }
  }

  function fuzzConfig<T>(): fc.Parameters<T> {
    return { numRuns: RUNS, endOnFailure: true, ...(SEED !== undefined ? { seed: SEED } : {}) };
  }

  it('authenticated websocket: frames and bytes never crash, never hang an ack, never starve the control client', async () => {
    let i = 0;
    await fc.assert(
      fc.asyncProperty(frameSequence(true), async (frames) => {
        const client = await authenticated('websocket', tokens[i++ % FUZZ_USERS] as string);
        try {
          await client.sendRaw(...frames.map((f) => f.frame));
          await acksOrClose(client, frames);
        } finally {
          client.close();
        }
        await controlServed();
      }),
      fuzzConfig<[FuzzFrame[]]>(),
    );
  }, PROPERTY_TIMEOUT_MS);

  it('authenticated polling: every POST is answered 200, 400 or 413; acks come back or the connection closes', async () => {
    let i = 0;
    await fc.assert(
      fc.asyncProperty(frameSequence(false), async (frames) => {
        const client = await authenticated('polling', tokens[i++ % FUZZ_USERS] as string);
        try {
          const status = await client.sendRaw(...frames.map((f) => f.frame));
          expect([200, 400, 413]).toContain(status);
          // A refused body (413 over the size cap, 400) is dropped whole: no ack is owed for it.
          if (status === 200) await acksOrClose(client, frames);
        } finally {
          await client.end();
        }
        await controlServed();
      }),
      fuzzConfig<[FuzzFrame[]]>(),
    );
  }, PROPERTY_TIMEOUT_MS);

  it.each(['websocket', 'polling'] as const)('unauthenticated %s: garbage and forged CONNECTs never authenticate', async (transport) => {
    const before = recorder.connections.length;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(rawFrame(transport === 'websocket').map((f) => f.frame), badAuth(tokens[0] as string).map((auth) => `40/chat,${auth}`)), { minLength: 1, maxLength: 4 }),
        async (frames) => {
          const client = await RawEngineClient.open({ url: t.url, path: '/socket.io/', transport, timeoutMs: ACK_TIMEOUT_MS });
          if ('refused' in client) throw new Error(`engine handshake refused with HTTP ${client.status}`);
          try {
            const status = await client.sendRaw(...frames);
            if (transport === 'polling') expect([200, 400, 413]).toContain(status);
            // A last CONNECT without credentials to `/`: its answer (or a close) paces the case.
            await client.send('0{}');
            const barrier = await client.next((p) => p.nsp === '/' && (p.type === 0 || p.type === 4), ACK_TIMEOUT_MS);
            if (barrier === null) expect(client.isClosed).toBe(true);
            else expect(barrier.type).toBe(4);
            const granted = await client.next((p) => p.type === 0, 0);
            expect(granted).toBeNull();
          } finally {
            await client.end();
          }
          expect(recorder.connections.length).toBe(before);
          await controlServed();
        },
      ),
      fuzzConfig<[Array<string | Buffer>]>(),
    );
  }, PROPERTY_TIMEOUT_MS);

  it('left no prototype polluted', () => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(Object.prototype)).toEqual([]);
    expect(Object.keys(Array.prototype)).toEqual([]);
  });
});
