import type { Socket } from 'socket.io-client';
import { connect, connected, nextEvent, TRANSPORTS, type Transport } from '../support/clients.js';
import { RawEngineClient, RAW_TRANSPORTS } from '../support/raw-engine.js';
import { SampleTarget } from './support/sample-target.js';

/**
 * THREATS.md 11-13 (namespaces and transports) as black-box attacks on the sample app, each
 * followed by the preamble's checks. Variants: test/e2e/namespaces-transports.spec.ts,
 * test/e2e/handshake-credentials.spec.ts.
 */
let target: SampleTarget;
beforeAll(async () => { target = await SampleTarget.start(); });
afterEach(async () => { await target.assertUnharmed(); });
afterAll(async () => { await target.close(); });

describe('THREATS 11 — every namespace is protected', () => {
  it.each(TRANSPORTS)('refuses /, /chat, /moderation without a token, and names nobody declared even with one (%s)', async (transport) => {
    for (const nsp of ['/', '/chat', '/moderation']) {
      const outcome = await connect(target.url, nsp, { transports: [transport] });
      expect(outcome.connected).toBe(false);
      expect(outcome.error?.data?.code).toBe('UNAUTHORIZED');
    }
    for (const nsp of ['/admin', '/chat2', '/moderation/x', '/socket.io']) {
      expect((await connect(target.url, nsp, { transports: [transport] })).connected).toBe(false);
      expect((await connect(target.url, nsp, { transports: [transport], auth: { token: target.token('ns-user', ['*']) } })).connected).toBe(false);
    }
    expect((await target.presence('ns-user')).connections).toBe(0);
  });

  it.each(RAW_TRANSPORTS)('authenticates each namespace of one engine connection on its own (%s)', async (transport) => {
    const raw = await RawEngineClient.open(target.url, { transport });
    target.secret(raw.sid);
    expect((await raw.connect('/', { token: target.token('ns-raw') })).type).toBe(0);
    expect((await raw.connect('/chat')).type).toBe(4);
    expect((await raw.connect('/moderation', { token: 'x' })).type).toBe(4);
  });
});

describe('THREATS 12 — polling, websocket and the upgrade give identical results', () => {
  type Mode = { label: string; transports: Transport[] };
  const modes: Mode[] = [{ label: 'polling', transports: ['polling'] }, { label: 'websocket', transports: ['websocket'] }, { label: 'polling→websocket', transports: ['polling', 'websocket'] }];

  async function scenario(mode: Mode): Promise<unknown[]> {
    const options = { transports: mode.transports, upgrade: mode.transports.length > 1 };
    const results: unknown[] = [];
    results.push((await connect(target.url, '/chat', options)).error?.data);
    results.push((await connect(target.url, '/chat', { ...options, auth: { token: 'garbage' } })).error?.data);
    const reader = await connected(target.url, '/chat', { ...options, auth: { token: target.token(`reader-${mode.label}`, ['channel:read']) } });
    const writer = await connected(target.url, '/chat', { ...options, auth: { token: target.token(`writer-${mode.label}`, ['channel:*']) } });
    if (mode.transports.length > 1) {
      await Promise.all([reader, writer].map((s) => (s.io.engine.transport.name === 'websocket' ? undefined : new Promise((resolve) => s.io.engine.once('upgrade', resolve)))));
      expect([reader, writer].map((s) => s.io.engine.transport.name)).toEqual(['websocket', 'websocket']);
    }
    const ask = (s: Socket, ev: string, body: unknown) => s.timeout(5000).emitWithAck(ev, body);
    results.push(await ask(reader, 'channel:join', { channelId: 'same' }));
    results.push(await ask(writer, 'channel:join', { channelId: 'same' }));
    results.push(await ask(reader, 'message:send', { channelId: 'same', text: 'no' }));
    results.push(await ask(writer, 'channel:join', { channelId: '__proto__' }));
    results.push(await ask(writer, 'presence:list', {}));
    const delivered = nextEvent<{ text: string }>(reader, 'message');
    const sent = (await ask(writer, 'message:send', { channelId: 'same', text: 'hello' })) as { ok: boolean };
    results.push(sent.ok, (await delivered).text);
    return results;
  }

  it('the same attacks and the same good flow give the same answers on every transport', async () => {
    const outcomes = [];
    for (const mode of modes) outcomes.push(await scenario(mode));
    expect(outcomes[0]).toEqual([
      { code: 'UNAUTHORIZED' }, { code: 'UNAUTHORIZED' }, { ok: true }, { ok: true },
      { error: expect.objectContaining({ code: 'FORBIDDEN' }) }, { error: expect.objectContaining({ code: 'VALIDATION_FAILED' }) },
      { error: expect.objectContaining({ code: 'FORBIDDEN' }) }, true, 'hello',
    ]);
    expect(outcomes[1]).toEqual(outcomes[0]);
    expect(outcomes[2]).toEqual(outcomes[0]);
  });
});

describe('THREATS 13 — the engine sid never appears in payloads, presence data or logs', () => {
  it.each(RAW_TRANSPORTS)('no packet the server sends carries the engine sid (raw %s)', async (transport) => {
    const raw = await RawEngineClient.open(target.url, { transport });
    target.secret(raw.sid);
    const welcome = await raw.connect('/chat', { token: target.token('sid-user', ['channel:*', 'presence:read']) });
    expect(welcome.type).toBe(0);
    await raw.send('2/chat,1["channel:join",{"channelId":"general"}]', '2/chat,2["message:send",{"channelId":"general","text":"hi"}]', '2/chat,3["presence:list",{}]', '2/chat,4["nope",{}]');
    await raw.next((p) => p.type === 3 && p.id === 4);
    const everything = raw.history.map((p) => p.raw).join('\n');
    expect(everything).not.toContain(raw.sid);
    expect(JSON.stringify(await target.presenceList())).not.toContain(raw.sid);
    target.assertNoSecretLogged();
  });

  it.each(TRANSPORTS)('the socket id a socket.io-client sees is not the engine sid (%s)', async (transport) => {
    const socket = await connected(target.url, '/chat', { transports: [transport], auth: { token: target.token('sid-client') } });
    const sid = target.secret(socket.io.engine.id);
    expect(socket.id).not.toBe(sid);
    expect(socket.id).not.toContain(sid);
  });
});
