import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import type { Socket } from 'socket.io-client';
import { ModerationService } from '../../lib/index.js';
import { connected, nextEvent, TRANSPORTS, type Transport } from '../support/clients.js';
import { RawEngineClient } from '../support/raw-engine.js';
import { SampleTarget } from './support/sample-target.js';

/** What a team ships when it forgets the decorator on one handler of the sample's `/chat` namespace. */
let undecoratedRuns = 0;
@WebSocketGateway({ namespace: '/chat' })
class ForgottenGateway {
  @SubscribeMessage('debug:dump')
  dump() {
    undecoratedRuns += 1;
    return { secrets: 'everything' };
  }
}

/**
 * THREATS.md 14-19 (per-message authorization) as black-box attacks on the sample app (plus, for
 * case 18, one handler nobody decorated), each followed by the preamble's checks. Variants:
 * test/e2e/authorization.spec.ts, test/e2e/authorization-sample.spec.ts.
 */
let target: SampleTarget;
beforeAll(async () => { target = await SampleTarget.start({ providers: [ForgottenGateway] }); });
afterEach(async () => { await target.assertUnharmed(); });
afterAll(async () => { await target.close(); });

const user = (sub: string, perms: string[], transport: Transport = 'websocket', tenant = 'acme') =>
  connected(target.url, '/chat', { transports: [transport], auth: { token: target.token(sub, perms, tenant) } });
const ask = (socket: Socket, event: string, body: unknown): Promise<Record<string, unknown>> => socket.timeout(5000).emitWithAck(event, body);
const code = (answer: Record<string, unknown>) => (answer.error as { code?: string } | undefined)?.code;

/** Collects every `message` a socket receives. */
function inbox(socket: Socket): { text: string; channelId: string }[] {
  const got: { text: string; channelId: string }[] = [];
  socket.on('message', (m: { text: string; channelId: string }) => got.push(m));
  return got;
}

/** A round trip through the control client's own channel message: anything sent earlier has arrived. */
async function barrier(): Promise<void> {
  const echoed = nextEvent(target.control, 'message');
  await target.control.emitWithAck('message:send', { channelId: 'general', text: 'barrier' });
  await echoed;
}

describe('THREATS 14 — missing permission', () => {
  it.each(TRANSPORTS)('the ack resolves with FORBIDDEN (no timeout); nothing joins, nothing is delivered (%s)', async (transport) => {
    const reader = await user('reader14', ['channel:read'], transport);
    const nobody = await user('nobody14', [], transport);
    const controlSaw = inbox(target.control);
    expect(code(await ask(nobody, 'channel:join', { channelId: 'general' }))).toBe('FORBIDDEN');
    expect(code(await ask(nobody, 'presence:list', {}))).toBe('FORBIDDEN');
    expect(await ask(reader, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
    expect(code(await ask(reader, 'message:send', { channelId: 'general', text: 'unauthorized write' }))).toBe('FORBIDDEN');
    expect(code(await ask(nobody, 'message:send', { channelId: 'general', text: 'unauthorized write' }))).toBe('FORBIDDEN');
    const nobodySaw = inbox(nobody);
    await barrier();
    expect(controlSaw.map((m) => m.text)).toEqual(['barrier']);
    expect(nobodySaw).toEqual([]);
    target.control.off('message');
  });
});

describe('THREATS 15 — broken object-level authorization', () => {
  it('another tenant\'s channel of the same name, a channel outside a scoped grant, a raw socket-id room: no traffic of the victim', async () => {
    const intruder = await user('intruder', ['channel:*'], 'websocket', 'globex');
    const scoped = await user('scoped', ['channel:read:random', 'channel:write:random']);
    const controlSaw = inbox(target.control);
    const intruderSaw = inbox(intruder);
    const scopedSaw = inbox(scoped);
    expect(await ask(intruder, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
    expect(code(await ask(scoped, 'channel:join', { channelId: 'general' }))).toBe('FORBIDDEN');
    expect(await ask(scoped, 'channel:join', { channelId: 'random' })).toEqual({ ok: true });
    // The victim's raw Socket.IO room (its socket id) is not a channel anybody can enter.
    const victimRoom = target.control.id as string;
    const roomAnswer = await ask(intruder, 'channel:join', { channelId: victimRoom });
    expect(roomAnswer.ok === true || code(roomAnswer) === 'VALIDATION_FAILED').toBe(true);
    expect(await ask(intruder, 'message:send', { channelId: 'general', text: 'cross-tenant' })).toEqual({ ok: true, id: expect.any(String) });
    // Traffic for the victim's own socket: its presence_update when someone of its tenant comes online.
    const intruderPresence: unknown[] = [];
    intruder.on('presence_update', (u: unknown) => intruderPresence.push(u));
    const victimPresence = new Promise<void>((resolve) => target.control.on('presence_update', (u: { userId: string }) => { if (u.userId === 'newcomer15') resolve(); }));
    await user('newcomer15', ['channel:read']);
    await victimPresence;
    await barrier();
    expect(intruderPresence).toEqual([]);
    expect(controlSaw.map((m) => m.text)).toEqual(['barrier']);
    expect(intruderSaw.map((m) => m.text)).toEqual(['cross-tenant']);
    expect(scopedSaw).toEqual([]);
    target.control.off('message');
    target.control.off('presence_update');
  });
});

describe('THREATS 16 — special names for rooms and channels', () => {
  const names: [string, unknown][] = [
    ['__proto__', '__proto__'], ['constructor', 'constructor'], ['prototype', 'prototype'], ['empty', ''], ['10 KB', 'a'.repeat(10_240)],
    ['control characters', 'gen\u0000eral\n'], ['look-alike Unicode', 'gen\u0435ral'], ['right-to-left override', 'general\u202e'], ['not a string', { toString: 'x' }],
  ];

  it.each(TRANSPORTS)('VALIDATION_FAILED for each, never echoed, no crash, no pollution (%s)', async (transport) => {
    const socket = await user('names16', ['channel:*'], transport);
    for (const [, name] of names) {
      for (const event of ['channel:join', 'channel:leave', 'message:send']) {
        const answer = await ask(socket, event, { channelId: name, text: 'x' });
        expect(code(answer)).toBe('VALIDATION_FAILED');
        if (typeof name === 'string' && name.length > 3) expect(JSON.stringify(answer)).not.toContain(JSON.stringify(name).slice(1, -1));
      }
    }
    expect(Object.prototype).toEqual({});
    expect(({} as Record<string, unknown>).toString).toBe(Object.prototype.toString);
  });
});

describe('THREATS 17 — permission removed mid-session', () => {
  it('the next emit is denied and the socket leaves the channel it may no longer read', async () => {
    const demoted = await user('demoted', ['channel:*']);
    expect(await ask(demoted, 'channel:join', { channelId: 'general' })).toEqual({ ok: true });
    const saw = inbox(demoted);
    const moderation = target.app.get(ModerationService);
    await moderation.setPermissions('acme', 'demoted', []);
    try {
      expect(code(await ask(demoted, 'message:send', { channelId: 'general', text: 'after removal' }))).toBe('FORBIDDEN');
      expect(code(await ask(demoted, 'channel:join', { channelId: 'general' }))).toBe('FORBIDDEN');
      await barrier();
      expect(saw).toEqual([]);
    } finally {
      await moderation.setPermissions('acme', 'demoted', null);
    }
    target.control.off('message');
  });
});

describe('THREATS 18 — a handler with no authorization decorator', () => {
  it('is denied by default even to a holder of *, never runs, and start-up named it', async () => {
    const root = await user('root18', ['*']);
    expect(code(await ask(root, 'debug:dump', {}))).toBe('FORBIDDEN');
    expect(undecoratedRuns).toBe(0);
    expect(target.logger.matching('ForgottenGateway.dump').join('\n')).toMatch(/debug:dump.*neither @WsAuthorize nor @WsPublic/);
    // The sample's own handlers are all decorated: the start-up warning names this one only.
    expect(target.logger.matching('neither @WsAuthorize nor @WsPublic')).toHaveLength(1);
  });
});

describe('THREATS 19 — reserved or odd event names', () => {
  it('odd names Socket.IO accepts (numbers too) are refused by ack; reserved names and null/empty ones close only that connection; no crash, no handler', async () => {
    const raw = await RawEngineClient.open(target.url, { transport: 'websocket' });
    target.secret(raw.sid);
    expect((await raw.connect('/chat', { token: target.token('odd19', ['*']) })).type).toBe(0);
    const names: (string | number)[] = ['error', '__proto__', 'constructor', 'hasOwnProperty', 'toString', 'exception', 'message', 'presence_update', 'channel:join ', 42];
    await raw.send(...names.map((name) => `2/chat,1${JSON.stringify([name, { channelId: 'general' }])}`));
    await raw.send('2/chat,2["presence:list",{}]');
    await raw.next((p) => p.type === 3 && p.id === 2);
    const refusals = raw.history.filter((p) => p.type === 3 && p.id === 1);
    expect(refusals).toHaveLength(names.length);
    for (const refusal of refusals) expect(['NOT_FOUND', 'BAD_REQUEST']).toContain(((refusal.data as [{ error: { code: string } }])[0]).error.code);
    await raw.close();
    for (const packet of ['2/chat,["connect"]', '2/chat,["disconnect"]', '2/chat,["newListener","message"]', '2/chat,["disconnecting"]', '2/chat,[null]', '2/chat,[]', '2/chat,{}']) {
      const victim = await RawEngineClient.open(target.url, { transport: 'websocket' });
      target.secret(victim.sid);
      expect((await victim.connect('/chat', { token: target.token('odd19', ['*']) })).type).toBe(0);
      await victim.send(packet);
      await victim.closed;
      expect(victim.history.filter((p) => p.type === 3)).toEqual([]);
    }
  });
});
