import { request } from 'node:http';
import type { WebSocket } from 'ws';
import type { Socket } from 'socket.io-client';
import { connect, connected, TRANSPORTS } from '../support/clients.js';
import { RawEngineClient, RawHandshakeRefused, RAW_TRANSPORTS, type RawTransport } from '../support/raw-engine.js';
import { waitFor } from '../support/wait.js';
import { SampleTarget } from './support/sample-target.js';

/**
 * THREATS.md 20-27 (input, size and flood) as black-box attacks on the sample app with its
 * defaults (64 KB messages, 10 attachments, 1 MiB send buffer, MESSAGE_RATE_PER_USER 100 per
 * 10 s, MAX_CONNECTIONS_PER_USER 3), each followed by the preamble's checks. Variants:
 * test/e2e/validation*.spec.ts, test/e2e/limits*.spec.ts, test/e2e/connection-limit.spec.ts.
 */
let target: SampleTarget;
beforeAll(async () => { target = await SampleTarget.start(); });
afterEach(async () => { await target.assertUnharmed(); });
afterAll(async () => { await target.close(); });

const MARKER = 'ECHO-MARKER-7f3a';
type Ack = { ok?: boolean; error?: { code: string; message: string; retryAfterMs?: number } };
const user = (sub: string, perms: string[] = ['channel:*'], transport: 'polling' | 'websocket' = 'websocket') =>
  connected(target.url, '/chat', { transports: [transport], auth: { token: target.token(sub, perms) } });

/** A raw `/chat` connection of `sub` that has joined `general`. */
async function rawChat(transport: RawTransport, sub: string): Promise<RawEngineClient> {
  const raw = await RawEngineClient.open(target.url, { transport });
  target.secret(raw.sid);
  expect((await raw.connect('/chat', { token: target.token(sub) })).type).toBe(0);
  return raw;
}

describe('THREATS 20 — payload shape confusion', () => {
  it.each(TRANSPORTS)('VALIDATION_FAILED for every wrong shape, values never echoed, the handler never runs (%s)', async (transport) => {
    const socket = await user('shapes20', ['channel:*'], transport);
    expect(await socket.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    const shapes: unknown[][] = [
      [{ channelId: 'general', text: MARKER }, { channelId: 'general', text: MARKER }],
      [[{ channelId: 'general', text: MARKER }]],
      [MARKER], [42], [true], [null], [],
      [{ channelId: 'general', text: MARKER, admin: MARKER }],
      [{ channelId: 'general', text: { value: MARKER } }],
      [{ channelId: ['general'], text: MARKER }],
      [{ channelId: 'general', text: [MARKER] }],
      [{ channelId: 'general', text: '' }],
      [{ channelId: 'general', text: MARKER.repeat(200) }],
    ];
    const received: string[] = [];
    target.control.on('message', (m: { text: string }) => received.push(m.text));
    try {
      for (const args of shapes) {
        const answer = (await socket.timeout(5000).emitWithAck('message:send', ...args)) as Ack;
        expect(answer.error?.code).toBe('VALIDATION_FAILED');
        expect(JSON.stringify(answer)).not.toContain(MARKER);
      }
      expect(await socket.emitWithAck('message:send', { channelId: 'general', text: 'well formed' })).toEqual({ ok: true, id: expect.any(String) });
      await waitFor('the well-formed message', () => received.includes('well formed'));
      expect(received).toEqual(['well formed']);
    } finally {
      target.control.off('message');
    }
  });
});

describe('THREATS 21 — prototype pollution', () => {
  it.each(RAW_TRANSPORTS)('__proto__ and constructor.prototype, nested in objects and arrays: refused, no object polluted (%s)', async (transport) => {
    const raw = await rawChat(transport, 'proto21');
    const bodies = [
      '{"channelId":"general","__proto__":{"polluted":"yes"}}',
      '{"channelId":"general","text":"x","constructor":{"prototype":{"polluted":"yes"}}}',
      '{"channelId":"general","text":"x","nested":{"__proto__":{"polluted":"yes"}}}',
      '{"channelId":"general","text":"x","list":[{"__proto__":{"polluted":"yes"}}]}',
      '{"__proto__":{"channelId":"general","text":"x"}}',
    ];
    let id = 1;
    for (const body of bodies) {
      for (const event of ['channel:join', 'message:send']) {
        await raw.send(`2/chat,${id}["${event}",${body}]`);
        const ack = await raw.next((p) => p.type === 3 && p.id === id);
        expect((ack.data as [Ack])[0].error?.code).toBe('VALIDATION_FAILED');
        id += 1;
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).toEqual({});
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });
});

describe('THREATS 22 — oversize message', () => {
  it.each(RAW_TRANSPORTS)('a message over 64 KB is refused (polling: HTTP 413; websocket: closed); no handler ran (%s)', async (transport) => {
    const raw = await rawChat(transport, 'big22');
    const status = await raw.sendEngine(`42/chat,1["message:send",{"channelId":"general","text":"${'x'.repeat(70 * 1024)}"}]`);
    if (transport === 'polling') {
      expect(status).toBe(413);
      // The session may stay open: an ack after the refused POST is the barrier.
      await raw.send('2/chat,5["channel:join",{"channelId":"general"}]');
      await raw.next((p) => p.type === 3 && p.id === 5);
    } else {
      await raw.closed;
    }
    expect(raw.history.filter((p) => p.type === 3 && p.id === 1)).toEqual([]);
  });
});

describe('THREATS 23 — binary attachment abuse', () => {
  const BIN = 'BIN';
  const attacks: [string, string[]][] = [
    ['a huge attachment count', ['5999999999-/chat,1["message:send",{"_placeholder":true,"num":0}]']],
    ['more attachments than the cap (11)', ['511-/chat,1["message:send",{"_placeholder":true,"num":0}]']],
    ['a placeholder past the attachments', ['51-/chat,1["message:send",{"_placeholder":true,"num":5}]', BIN]],
    ['a non-numeric placeholder', ['51-/chat,1["message:send",{"_placeholder":true,"num":"0"}]', BIN]],
    ['a stray binary frame', [BIN]],
  ];

  it.each(RAW_TRANSPORTS)('closes the connection for each attack over %s; no crash, no handler', async (transport) => {
    for (const [, frames] of attacks) {
      const raw = await rawChat(transport, 'bin23');
      if (transport === 'polling') {
        await raw.sendPollingBody(frames.map((f) => (f === BIN ? `b${Buffer.from([1, 2, 3]).toString('base64')}` : `4${f}`)).join('\x1e'));
      } else {
        const ws = (raw as unknown as { ws: WebSocket }).ws;
        for (const frame of frames) ws.send(frame === BIN ? Buffer.from([1, 2, 3]) : `4${frame}`);
      }
      await raw.closed;
      expect(raw.history.filter((p) => p.type === 3)).toEqual([]);
    }
  });
});

describe('THREATS 24 — message flood', () => {
  it('one user on three sockets gets exactly its budget of 100, then RATE_LIMITED with retryAfterMs, then a disconnect once it keeps sending; the control keeps its answers', async () => {
    const sockets = await Promise.all([0, 1, 2].map(() => user('flood24', ['presence:read'])));
    let accepted = 0;
    let refusal: Ack | undefined;
    for (let i = 0; refusal === undefined && i < 200; i++) {
      const answer = (await (sockets[i % 3] as Socket).emitWithAck('presence:list', {})) as Ack;
      if (answer.ok === true) accepted += 1;
      else refusal = answer;
      if (i === 50) expect(((await target.control.emitWithAck('presence:list', {})) as Ack).ok).toBe(true);
    }
    expect(accepted).toBe(100);
    expect(refusal?.error).toEqual({ code: 'RATE_LIMITED', message: expect.any(String), retryAfterMs: expect.any(Number) });
    const flooder = sockets[0] as Socket;
    const dropped = new Promise<void>((resolve) => flooder.once('disconnect', () => resolve()));
    // A flooder keeps sending after it was told: once past the grace (rateLimit.strikeGraceMs, 2 s)
    // or 10 x the limit of refusals, each refusal is a strike, and the sixth closes it.
    const started = Date.now();
    while (flooder.connected && Date.now() - started < 30_000) {
      flooder.emit('presence:list', {});
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    await dropped;
    expect(((await target.control.emitWithAck('presence:list', {})) as Ack).ok).toBe(true);
  });
});

describe('THREATS 25 — slow consumer', () => {
  it('a polling client that stops reading is dropped once its queue passes the bound; the senders are served throughout', async () => {
    // A polling session that joins `firehose` and never polls again: everything for it stays queued.
    const token = target.token('slow25');
    const open = await httpText('GET', `${target.url}/socket.io/?EIO=4&transport=polling`);
    const sid = target.secret((JSON.parse(open.slice(1)) as { sid: string }).sid);
    const session = `${target.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`;
    await httpText('POST', session, `40/chat,${JSON.stringify({ token })}`);
    await waitFor('the stalled client connected', async () => (await target.presence('slow25')).connections === 1);
    await httpText('POST', session, '42/chat,1["channel:join",{"channelId":"firehose"}]');
    const senders = await Promise.all(Array.from({ length: 8 }, (_, i) => user(`sender25-${i}`)));
    await Promise.all(senders.map((s) => s.emitWithAck('channel:join', { channelId: 'firehose' })));
    const text = 'y'.repeat(2000);
    let rounds = 0;
    // 8 senders × 2 KB per round; the 1 MiB bound is passed after ~65 rounds, within the senders' budget of 100.
    while ((await target.presence('slow25')).connections > 0) {
      expect(rounds).toBeLessThan(95);
      const answers = (await Promise.all(senders.map((s) => s.emitWithAck('message:send', { channelId: 'firehose', text })))) as Ack[];
      for (const answer of answers) expect(answer.ok).toBe(true);
      rounds += 1;
    }
    expect(rounds).toBeGreaterThan(30);
  });
});

describe('THREATS 26 — connection exhaustion', () => {
  it.each(TRANSPORTS)('20 parallel handshakes of one user give exactly the ceiling of 3; the rest get CONNECTION_LIMIT (%s)', async (transport) => {
    const token = target.token('greedy26');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => connect(target.url, '/chat', { transports: [transport], auth: { token } })));
    expect(outcomes.filter((o) => o.connected)).toHaveLength(3);
    expect(new Set(outcomes.filter((o) => !o.connected).map((o) => o.error?.data?.code))).toEqual(new Set(['CONNECTION_LIMIT']));
    expect((await target.presence('greedy26')).connections).toBe(3);
  });

  it('idle unauthenticated engine connections are closed by the connect timeout', async () => {
    const idle = await Promise.all([...RAW_TRANSPORTS, ...RAW_TRANSPORTS].map((transport) => RawEngineClient.open(target.url, { transport })));
    idle.forEach((client) => target.secret(client.sid));
    await Promise.all(idle.map((client) => client.closed));
  }, 20_000);
});

describe('THREATS 27 — handshake flood from one address', () => {
  let limited: SampleTarget;
  beforeAll(async () => { limited = await SampleTarget.start({ env: { HANDSHAKE_RATE_PER_ADDRESS: '20' } }); });
  afterAll(async () => { await limited.close(); });

  it('refuses past the rate on both transports (polling 403, websocket 400, RATE_LIMITED), without starving another address; the control keeps working', async () => {
    const answers: number[] = [];
    const bodies = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const attempt = await RawEngineClient.attempt(limited.url, { transport: i % 2 === 0 ? 'polling' : 'websocket' });
      if (attempt instanceof RawHandshakeRefused) {
        answers.push(attempt.status);
        bodies.add(attempt.body.includes('RATE_LIMITED') ? 'RATE_LIMITED' : attempt.body);
      }
      else {
        limited.secret(attempt.sid);
        answers.push(200);
        await attempt.close();
      }
    }
    expect(answers.filter((s) => s === 200).length).toBeLessThanOrEqual(20);
    expect(answers.filter((s) => s !== 200).length).toBeGreaterThanOrEqual(20);
    // Polling: 403; a refused websocket upgrade: Engine.IO's 400. Both say RATE_LIMITED.
    expect(new Set(answers.filter((s) => s !== 200))).toEqual(new Set([403, 400]));
    expect([...bodies]).toEqual(['RATE_LIMITED']);
    // Another address is not starved (engine.io-client hands localAddress to ws).
    const other = await connect(limited.url, '/chat', { transports: ['websocket'], auth: { token: limited.token('other27') }, localAddress: '127.0.0.2' } as Parameters<typeof connect>[2]);
    expect(other.connected).toBe(true);
    await limited.assertUnharmed();
  });
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
