import { request } from 'node:http';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { SecureIoAdapter } from '../../lib/index.js';
import { AppModule } from '../../sample/app.module.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { closeAllClients, connected, TRANSPORTS, type Transport } from '../support/clients.js';
import { engineUrl } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';

const SECRET = 'sample-validation-secret-0123456789-abcdefghijklm';
const MESSAGES = 10;
const HANDSHAKES = 12;

type Ack = { ok?: boolean; id?: string; users?: unknown[]; error?: { code: string; retryAfterMs?: number; fields?: { path: string; constraints: string[] }[] } };

/** The sample app (SAMPLE_CONTRACT.md): DTOs and the pipe on every handler, message and handshake rates from the environment. */
describe('sample app: validation and rate limits', () => {
  let app: INestApplication;
  let url: string;
  let users = 0;
  const token = (perms: string[] = ['channel:*', 'presence:read']) => signToken({ sub: `user-${++users}`, tenant: 'acme', perms }, { secret: SECRET });
  const open = (transport: Transport, t = token()) => connected(url, '/chat', { transports: [transport], auth: { token: t } });

  beforeAll(async () => {
    const config = loadSampleConfig({
      JWT_SECRET: SECRET, DEMO_LOGIN: 'off', ALLOWED_ORIGINS: 'http://127.0.0.1:1',
      MESSAGE_RATE_PER_USER: String(MESSAGES), HANDSHAKE_RATE_PER_ADDRESS: String(HANDSHAKES),
    });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.register(config)] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    app.useWebSocketAdapter(new SecureIoAdapter(app));
    await app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await app.close(); });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('validates channel:join, channel:leave and message:send against their DTOs', async () => {
      const socket = await open(transport);
      expect(await socket.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
      const cases: [string, unknown, string][] = [
        ['channel:join', { channelId: 'general', extra: true }, '*'],
        ['channel:join', ['general'], ''],
        ['channel:leave', { channelId: 42 }, 'channelId'],
        ['message:send', { channelId: 'general', text: '' }, 'text'],
        ['message:send', { channelId: 'general', text: 'x'.repeat(2001) }, 'text'],
        ['message:send', { channelId: 'general' }, 'text'],
      ];
      for (const [event, payload, path] of cases) {
        const ack = (await socket.emitWithAck(event, payload)) as Ack;
        expect(ack.error?.code).toBe('VALIDATION_FAILED');
        expect(ack.error?.fields?.[0].path).toBe(path);
      }
      const sent = (await socket.emitWithAck('message:send', { channelId: 'general', text: 'x'.repeat(2000) })) as Ack;
      expect(sent.ok).toBe(true);
    });
  });

  it('applies MESSAGE_RATE_PER_USER to all sockets of a user together', async () => {
    const t = token();
    const [a, b] = [await open('websocket', t), await open('polling', t)];
    for (let i = 0; i < MESSAGES; i++) expect(await (i % 2 === 0 ? a : b).emitWithAck('presence:list', {})).toMatchObject({ ok: true });
    const refused = (await b.emitWithAck('presence:list', {})) as Ack;
    expect(refused.error?.code).toBe('RATE_LIMITED');
    expect(refused.error?.retryAfterMs).toBeGreaterThan(0);
    expect(refused.error?.retryAfterMs).toBeLessThanOrEqual(10_000);
    // Another user is unaffected.
    expect(await (await open('websocket')).emitWithAck('presence:list', {})).toMatchObject({ ok: true });
  });

  it('applies HANDSHAKE_RATE_PER_ADDRESS to Engine.IO handshakes (runs last: it spends the budget)', async () => {
    const statuses = await Promise.all(Array.from({ length: HANDSHAKES + 2 }, () => handshakeStatus(url)));
    expect(statuses).toContain(403);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(HANDSHAKES);
  });
});

function handshakeStatus(base: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(engineUrl(base, 'polling'), { agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}
