import { Controller, Injectable, Sse, type MessageEvent } from '@nestjs/common';
import { interval, map, type Observable } from 'rxjs';
import { ModerationService, SsePublic, isIdentifier, type AuthenticationRequest, type Principal, type RealtimeAuthenticator } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect, connected, nextEvent } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { signToken } from '../support/tokens.js';

/**
 * THREATS case 54 (issue 14, finding 5): one identifier rule, applied at the handshake to every
 * authenticator's principal, so every identity that can connect can be moderated. A `sub` or
 * tenant with control or format characters was accepted, but moderation refused to name it.
 */
const BAD_IDS: Array<[string, string]> = [
  ['a newline', 'mallory\nadmin'],
  ['a NUL', 'mal\u0000lory'],
  ['a zero-width space', 'mal\u200Blory'],
  ['a right-to-left override', 'mal\u202Elory'],
  ['a line separator', 'mal\u2028lory'],
  ['257 characters', 'x'.repeat(257)],
];
const GOOD_IDS = ['José Müller', 'user@example.com', '用户-42', 'x'.repeat(256)];

/** The credential is a JSON principal (base64url over HTTP headers): any identity, as a custom authenticator might return it. */
@Injectable()
class EchoAuthenticator implements RealtimeAuthenticator {
  authenticate(request: AuthenticationRequest): Promise<Principal | null> {
    const json = request.credential.startsWith('{') ? request.credential : Buffer.from(request.credential, 'base64url').toString('utf8');
    const { userId, tenantId } = JSON.parse(json) as { userId: string; tenantId: string };
    return Promise.resolve({ userId, tenantId, permissions: [], expiresAt: Date.now() + 3_600_000 });
  }
}

/** A stream open to any authenticated identity (the identifier rule applies before any authorization). */
@Controller('ids')
class IdStreamsController {
  @SsePublic()
  @Sse('stream')
  stream(): Observable<MessageEvent> {
    return interval(1000).pipe(map(() => ({ data: 'tick' })));
  }
}

/** The HTTP status of an SSE request carrying `credential` as a Bearer token (base64url), then the stream is dropped. */
async function streamStatus(base: string, credential: string): Promise<number> {
  const abort = new AbortController();
  const res = await fetch(`${base}/ids/stream`, { headers: { authorization: `Bearer ${Buffer.from(credential).toString('base64url')}`, accept: 'text/event-stream' }, signal: abort.signal });
  abort.abort();
  await res.body?.cancel().catch(() => undefined);
  return res.status;
}

describe('the identifier rule', () => {
  afterEach(() => closeAllClients());

  describe('JWT', () => {
    let t: TestApp;
    beforeAll(async () => { t = await startApp({ gateways: [pingGateway('/chat')] }); });
    afterAll(async () => { await t.close(); });

    it.each(BAD_IDS)('a sub with %s is refused UNAUTHORIZED, and so is a tenant with it', async (_name, id) => {
      expect(isIdentifier(id)).toBe(false);
      const bySub = await connect(t.url, '/chat', { auth: { token: signToken({ sub: id }) } });
      expect(bySub.error?.data?.code).toBe('UNAUTHORIZED');
      const byTenant = await connect(t.url, '/chat', { auth: { token: signToken({ tenant: id }) } });
      expect(byTenant.error?.data?.code).toBe('UNAUTHORIZED');
    });

    it.each(GOOD_IDS.map((id) => [id.slice(0, 20), id]))('a sub like %j connects, and moderation can ban it', async (_label, id) => {
      const socket = await connected(t.url, '/chat', { auth: { token: signToken({ sub: id }) } });
      const moderation = t.app.get(ModerationService);
      const closed = nextEvent(socket, 'disconnect');
      await moderation.banUser('acme', id);
      await closed;
      expect((await connect(t.url, '/chat', { auth: { token: signToken({ sub: id }) } })).error?.data?.code).toBe('BANNED');
      await moderation.unbanUser('acme', id);
    });

    it.each(BAD_IDS)('ModerationService refuses an id with %s with the same rule', async (_name, id) => {
      await expect(t.app.get(ModerationService).banUser('acme', id)).rejects.toThrow(TypeError);
    });
  });

  describe('a custom authenticator', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ controllers: [IdStreamsController], gateways: [pingGateway('/chat')], security: { jwt: undefined, authenticator: EchoAuthenticator } });
    });
    afterAll(async () => { await t.close(); });

    it.each(BAD_IDS)('its principal with %s in userId or tenantId is refused UNAUTHORIZED', async (_name, id) => {
      const byUser = await connect(t.url, '/chat', { auth: { token: JSON.stringify({ userId: id, tenantId: 'acme' }) } });
      expect(byUser.error?.data?.code).toBe('UNAUTHORIZED');
      const byTenant = await connect(t.url, '/chat', { auth: { token: JSON.stringify({ userId: 'alice', tenantId: id }) } });
      expect(byTenant.error?.data?.code).toBe('UNAUTHORIZED');
    });

    it('its principal with a valid identity connects', async () => {
      await connected(t.url, '/chat', { auth: { token: JSON.stringify({ userId: 'José', tenantId: 'acme' }) } });
    });

    it.each(BAD_IDS)('an SSE stream whose principal has %s in userId or tenantId is refused 401 before streaming', async (_name, id) => {
      expect(await streamStatus(t.url, JSON.stringify({ userId: id, tenantId: 'acme' }))).toBe(401);
      expect(await streamStatus(t.url, JSON.stringify({ userId: 'alice', tenantId: id }))).toBe(401);
    });

    it('an SSE stream with a valid identity opens', async () => {
      expect(await streamStatus(t.url, JSON.stringify({ userId: 'José', tenantId: 'acme' }))).toBe(200);
    });
  });
});
