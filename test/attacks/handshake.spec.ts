import { Test } from '@nestjs/testing';
import { RealtimeSecurityModule } from '../../lib/index.js';
import { connect, connected, nextEvent, TRANSPORTS } from '../support/clients.js';
import { b64url, claims, forgeToken, rsaKeyPair } from '../support/forge.js';
import { RawEngineClient, RawHandshakeRefused, RAW_TRANSPORTS, type SioPacket } from '../support/raw-engine.js';
import { waitFor } from '../support/wait.js';
import { ALLOWED_ORIGIN, ATTACK_SECRET, SampleTarget } from './support/sample-target.js';

/**
 * THREATS.md 1-10 (handshake and authentication) as black-box attacks on the sample app. Each
 * case ends with the preamble's checks (`assertUnharmed`): the control client connected before
 * the attack is still served, the process is up, presence and connection counts are back to the
 * baseline, and no token, cookie or engine sid was logged. Variants: test/e2e/handshake-*.spec.ts.
 */
let target: SampleTarget;
beforeAll(async () => { target = await SampleTarget.start(); });
afterEach(async () => { await target.assertUnharmed(); });
afterAll(async () => { await target.close(); });

const sampleClaims = (extra: Record<string, unknown> = {}, seconds = 3600) => claims({ sub: 'mallory', tenant: 'acme', perms: ['channel:*'], ...extra }, seconds);
const codeOf = (packet: SioPacket) => (packet.data as { data?: { code?: string } }).data?.code;

describe('THREATS 1 — no or empty credentials', () => {
  it.each(TRANSPORTS)('refuses no token, an empty token and an empty auth with UNAUTHORIZED over %s; no event reaches the client', async (transport) => {
    for (const auth of [undefined, { token: '' }, {}, { token: '   ' }]) {
      const outcome = await connect(target.url, '/chat', { transports: [transport], ...(auth !== undefined ? { auth } : {}) });
      const events: string[] = [];
      outcome.socket.onAny((event: string) => events.push(event));
      expect(outcome.connected).toBe(false);
      expect(outcome.error?.data?.code).toBe('UNAUTHORIZED');
      expect(events).toEqual([]);
    }
    expect((await target.presenceList()).map((u) => u.userId)).toEqual(['control']);
  });
});

describe('THREATS 2 — forged tokens', () => {
  const { privateKey } = rsaKeyPair();
  const forged: [string, string][] = [
    ['alg none', forgeToken({ alg: 'none', typ: 'JWT' }, sampleClaims(), { none: true })],
    ['wrong signature', forgeToken({ alg: 'HS256', typ: 'JWT' }, sampleClaims(), { hmac: 'not-the-sample-secret-0123456789-abcdefghijkl' })],
    ['wrong key type (RS256 where HS256 is pinned)', forgeToken({ alg: 'RS256', typ: 'JWT' }, sampleClaims(), { rsaPrivateKey: privateKey })],
    ['another HMAC algorithm with the right key', forgeToken({ alg: 'HS512', typ: 'JWT' }, sampleClaims(), { hmac: ATTACK_SECRET })],
    ['truncated', forgeToken({ alg: 'HS256', typ: 'JWT' }, sampleClaims(), { hmac: ATTACK_SECRET }).slice(0, -10)],
    ['payload swapped after signing', (() => {
      const parts = forgeToken({ alg: 'HS256', typ: 'JWT' }, sampleClaims(), { hmac: ATTACK_SECRET }).split('.');
      return `${parts[0]}.${b64url(sampleClaims({ perms: ['*'] }))}.${parts[2]}`;
    })()],
    ['no tenant claim', forgeToken({ alg: 'HS256', typ: 'JWT' }, sampleClaims({ tenant: undefined }), { hmac: ATTACK_SECRET })],
  ];

  it.each(TRANSPORTS)('refuses every forgery over %s with the same generic refusal; the genuine token is accepted', async (transport) => {
    const answers = new Set<string>();
    for (const [, token] of forged) {
      const outcome = await connect(target.url, '/chat', { transports: [transport], auth: { token: target.secret(token) } });
      expect(outcome.connected).toBe(false);
      answers.add(JSON.stringify({ message: outcome.error?.message, data: outcome.error?.data }));
    }
    // One answer for every kind of forgery: nothing tells the attacker which check failed.
    expect([...answers]).toHaveLength(1);
    expect(JSON.parse([...answers][0] as string)).toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    const genuine = forgeToken({ alg: 'HS256', typ: 'JWT' }, sampleClaims(), { hmac: ATTACK_SECRET });
    expect((await connect(target.url, '/chat', { transports: [transport], auth: { token: target.secret(genuine) } })).connected).toBe(true);
  });
});

describe('THREATS 3 — exp/nbf around the leeway', () => {
  it('accepts inside the 5 s leeway, refuses outside it (TOKEN_EXPIRED / UNAUTHORIZED)', async () => {
    const sign = (extra: Record<string, unknown>, seconds: number) => target.secret(forgeToken({ alg: 'HS256', typ: 'JWT' }, sampleClaims(extra, seconds), { hmac: ATTACK_SECRET }));
    const now = Math.floor(Date.now() / 1000);
    const insideExp = await connect(target.url, '/chat', { auth: { token: sign({}, -2) } });
    expect(insideExp.connected).toBe(true);
    expect((await insideExp.socket.emitWithAck('channel:join', { channelId: 'general' })).ok).toBe(true);
    insideExp.socket.disconnect();
    const outsideExp = await connect(target.url, '/chat', { auth: { token: sign({}, -60) } });
    expect(outsideExp.error?.data?.code).toBe('TOKEN_EXPIRED');
    expect((await connect(target.url, '/chat', { auth: { token: sign({ nbf: now + 2 }, 3600) } })).connected).toBe(true);
    expect((await connect(target.url, '/chat', { auth: { token: sign({ nbf: now + 120 }, 3600) } })).error?.data?.code).toBe('UNAUTHORIZED');
  });

  it('an absurd leeway fails start-up, naming the option', async () => {
    await expect(Test.createTestingModule({ imports: [RealtimeSecurityModule.forRoot({ jwt: { secret: ATTACK_SECRET, clockToleranceSeconds: 86_400 } })] }).compile())
      .rejects.toThrow(/clockToleranceSeconds/);
  });
});

describe('THREATS 4 — token expires while connected', () => {
  it.each(TRANSPORTS)('closes the socket at expiry; a refresh in time keeps another open (%s)', async (transport) => {
    const expiring = await connected(target.url, '/chat', { transports: [transport], auth: { token: target.token('shortlived', ['channel:*'], 'acme', 2) } });
    const refreshed = await connected(target.url, '/chat', { transports: [transport], auth: { token: target.token('refresher', ['channel:*'], 'acme', 2) } });
    const refresh = (await refreshed.emitWithAck('auth:refresh', { token: target.token('refresher', ['channel:*'], 'acme', 3600) })) as { ok?: boolean };
    expect(refresh.ok).toBe(true);
    const started = Date.now();
    const reason = await nextEvent<string>(expiring, 'disconnect');
    expect(reason).toBe('io server disconnect');
    // A correctness bound, not a performance figure: exp (≤ 2 s) + clock leeway (5 s) + grace (0) + 2 s of slack.
    expect(Date.now() - started).toBeLessThan(9000);
    expect(refreshed.connected).toBe(true);
    expect((await refreshed.emitWithAck('channel:join', { channelId: 'general' })).ok).toBe(true);
  });
});

describe('THREATS 5 — ban / revocation', () => {
  it('closes every socket of the user on every namespace and transport; reconnecting is BANNED until unbanned', async () => {
    const token = target.token('banned-user', ['channel:*', 'moderation:read']);
    const sockets = [
      await connected(target.url, '/chat', { transports: ['websocket'], auth: { token } }),
      await connected(target.url, '/moderation', { transports: ['polling'], auth: { token } }),
    ];
    const closed = sockets.map((socket) => nextEvent(socket, 'disconnect'));
    expect((await target.moderate('POST', 'banned-user/ban')).status).toBe(200);
    await Promise.all(closed);
    for (const transport of TRANSPORTS) {
      expect((await connect(target.url, '/chat', { transports: [transport], auth: { token } })).error?.data?.code).toBe('BANNED');
    }
    expect((await target.moderate('DELETE', 'banned-user/ban')).status).toBe(200);
    expect((await connect(target.url, '/chat', { auth: { token } })).connected).toBe(true);
  });
});

describe('THREATS 6 — cross-site WebSocket hijacking', () => {
  const origins = ['http://evil.example', 'null', 'http://app.example.com.evil.example', 'http://evilapp.example.com', 'http://app.example.com:8080', 'https://app.example.com', 'HTTP://APP.EXAMPLE.COM.'];

  it.each(RAW_TRANSPORTS)('refuses the victim\'s cookie from a foreign, null, look-alike or suffix-trick Origin over %s before any handler runs', async (transport) => {
    const cookie = `rt_session=${target.token('victim', ['channel:*', 'presence:read'])}`;
    for (const origin of [...origins, undefined]) {
      const headers: Record<string, string> = { cookie, ...(origin !== undefined ? { origin } : {}) };
      const attempt = await RawEngineClient.attempt(target.url, { transport, headers });
      if (attempt instanceof RawHandshakeRefused) {
        expect([400, 403]).toContain(attempt.status);
        continue;
      }
      target.secret(attempt.sid);
      const answer = await attempt.connect('/chat');
      expect(answer.type).toBe(4);
      expect(codeOf(answer)).toBe('ORIGIN_REJECTED');
      await attempt.close();
    }
    expect((await target.presence('victim')).connections).toBe(0);
    // Control: the same cookie from the allowed Origin is accepted.
    const allowed = await RawEngineClient.open(target.url, { transport, headers: { cookie, origin: ALLOWED_ORIGIN } });
    target.secret(allowed.sid);
    expect((await allowed.connect('/chat')).type).toBe(0);
  });
});

describe('THREATS 7 — token in the query string', () => {
  it.each(TRANSPORTS)('refuses a query token over %s, even beside a valid auth token, and never logs it', async (transport) => {
    for (const name of ['token', 'access_token', 'jwt', 'x']) {
      const queryToken = target.token('query-user');
      const outcome = await connect(target.url, '/chat', { transports: [transport], query: { [name]: queryToken }, auth: { token: target.token('query-user') } });
      expect(outcome.connected).toBe(false);
    }
    expect((await target.presence('query-user')).connections).toBe(0);
  });
});

describe('THREATS 8 — events in the same flight as a bad CONNECT', () => {
  it.each(RAW_TRANSPORTS)('no handler runs for events pipelined behind a refused CONNECT (%s)', async (transport) => {
    const raw = await RawEngineClient.open(target.url, { transport });
    target.secret(raw.sid);
    await raw.send('0/chat,{"token":"not-a-jwt"}', '2/chat,1["presence:list",{}]', '2/chat,2["channel:join",{"channelId":"general"}]', '2/chat,3["message:send",{"channelId":"general","text":"smuggled"}]');
    // The server answers CONNECT_ERROR or closes the connection; never CONNECT.
    const answer = await Promise.race([raw.next((p) => p.nsp === '/chat' && (p.type === 0 || p.type === 4)), raw.closed.then(() => null)]);
    expect(answer?.type ?? 4).toBe(4);
    expect(raw.history.filter((p) => p.type !== 4)).toEqual([]);
    if (raw.isClosed) return;
    // Still open: a good CONNECT on the same engine connection and one ack after it as a barrier.
    expect((await raw.connect('/chat', { token: target.token('flight-user') })).type).toBe(0);
    await raw.send('2/chat,9["presence:list",{}]');
    await raw.next((p) => p.type === 3 && p.id === 9);
    expect(raw.history.filter((p) => p.type === 3 && p.id !== 9)).toEqual([]);
    expect(raw.history.filter((p) => p.type === 2)).toEqual([]);
  });
});

describe('THREATS 9 — protocol state abuse', () => {
  it.each(RAW_TRANSPORTS)('an event before CONNECT, and CONNECT twice, close the connection; no handler answers (%s)', async (transport) => {
    const early = await RawEngineClient.open(target.url, { transport });
    target.secret(early.sid);
    await early.send('2/chat,1["presence:list",{}]');
    await early.closed;
    expect(early.history.filter((p) => p.type === 3)).toEqual([]);

    const twice = await RawEngineClient.open(target.url, { transport });
    target.secret(twice.sid);
    expect((await twice.connect('/chat', { token: target.token('twice') })).type).toBe(0);
    await twice.send(`0/chat,${JSON.stringify({ token: target.token('twice') })}`);
    await twice.closed;
    await waitFor('the twice-connected socket released', async () => (await target.presence('twice')).connections === 0);
  });

  it('a client that never sends CONNECT is closed by the connect timeout', async () => {
    const idle = await Promise.all(RAW_TRANSPORTS.map((transport) => RawEngineClient.open(target.url, { transport })));
    idle.forEach((client) => target.secret(client.sid));
    await Promise.all(idle.map((client) => client.closed));
  }, 20_000);
});

describe('THREATS 10 — connection-state recovery must not skip authentication', () => {
  it.each(RAW_TRANSPORTS)('a recovery attempt without a valid token is refused over %s', async (transport) => {
    const first = await RawEngineClient.open(target.url, { transport });
    target.secret(first.sid);
    const welcome = await first.connect('/chat', { token: target.token('recovering') });
    expect(welcome.type).toBe(0);
    const pid = (welcome.data as { pid?: string }).pid ?? 'no-recovery-session';
    await first.close();
    for (const auth of [{ pid, offset: '0' }, { pid, offset: '0', token: 'forged.token.value' }, { pid, offset: '0', token: target.token('recovering', ['channel:*'], 'acme', -60) }]) {
      const again = await RawEngineClient.open(target.url, { transport });
      target.secret(again.sid);
      const answer = await again.connect('/chat', auth);
      expect(answer.type).toBe(4);
      expect(['UNAUTHORIZED', 'TOKEN_EXPIRED']).toContain(codeOf(answer));
      await again.close();
    }
    await waitFor('the closed session released', async () => (await target.presence('recovering')).connections === 0);
  });
});
