import { createServer } from 'node:net';
import type { Socket } from 'socket.io-client';
import { buildSampleIfStale } from '../support/cluster.js';
import { closeAllClients, connect, connected, type Transport } from '../support/clients.js';
import { Scrape } from '../support/prometheus.js';
import { spawnSample, type SampleProcess } from '../support/sample-process.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const SECRET = 'metrics-suite-secret-0123456789-abcdefghijklmnop';
const ALLOWED = 'http://app.example.com';
const RATE = 30;
const P = 'realtime_security_';

/** A free port on 127.0.0.1 for METRICS_PORT (0 turns the page off, so the test picks one). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The sample as a black box (`node dist-sample/sample/main.js`, METRICS_PORT on a free port):
 * scripted traffic, then `GET /metrics` on 127.0.0.1, with exact counter deltas.
 */
describe('sample app: GET /metrics (Prometheus text through the OpenTelemetry SDK)', () => {
  let sample: SampleProcess;
  let metricsUrl: string;
  const tok = (sub: string, perms: string[]) => signToken({ sub, tenant: 'acme', perms }, { secret: SECRET });
  const scrape = () => Scrape.of(metricsUrl);

  beforeAll(async () => {
    buildSampleIfStale();
    const port = await freePort();
    sample = await spawnSample({
      secret: SECRET,
      label: 'the sample',
      timeoutMs: 60_000,
      env: { METRICS_PORT: String(port), ALLOWED_ORIGINS: ALLOWED, DEMO_LOGIN: 'off', MESSAGE_RATE_PER_USER: String(RATE), HANDSHAKE_RATE_PER_ADDRESS: '0' },
    });
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    await waitFor('the metrics page', async () => (await fetch(metricsUrl).catch(() => null))?.status === 200, 20_000);
  }, 180_000);
  afterEach(() => closeAllClients());
  afterAll(async () => {
    if (sample === undefined) return;
    sample.process.kill('SIGTERM');
    await sample.exited;
  });

  it('serves the page on 127.0.0.1:METRICS_PORT only: not on the public port, nothing but /metrics', async () => {
    const page = await fetch(metricsUrl);
    expect(page.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await page.text()).toContain(`# TYPE ${P}messages_total counter`);
    expect((await fetch(`${sample.url}/metrics`)).status).toBe(404);
    expect((await fetch(metricsUrl.replace('/metrics', '/'))).status).toBe(404);
    expect(sample.output.join('\n')).toContain(`metrics on ${metricsUrl} (127.0.0.1 only)`);
  });

  it('3 cookie handshakes from a foreign Origin show as exactly 3 ORIGIN_REJECTED refusals, and nothing accepted', async () => {
    const before = await scrape();
    const cookie = `rt_session=${tok('victim', ['channel:*'])}`;
    const transports: Transport[] = ['websocket', 'websocket', 'polling'];
    const outcomes = await Promise.all(transports.map((t) => connect(sample.url, '/chat', { transports: [t], extraHeaders: { cookie, origin: 'http://evil.example' } })));
    expect(outcomes.every((o) => !o.connected)).toBe(true);
    const after = await scrape();
    expect(after.sum(`${P}handshakes_total`, { code: 'ORIGIN_REJECTED' }) - before.sum(`${P}handshakes_total`, { code: 'ORIGIN_REJECTED' })).toBe(3);
    expect(after.sum(`${P}handshakes_total`, { outcome: 'accepted' }) - before.sum(`${P}handshakes_total`, { outcome: 'accepted' })).toBe(0);
  });

  it('counts accepted handshakes with their duration, open connections by transport, and client disconnects', async () => {
    const before = await scrape();
    const sockets: Socket[] = [];
    for (const t of ['websocket', 'websocket', 'websocket', 'polling'] as Transport[]) {
      sockets.push(await connected(sample.url, '/chat', { transports: [t], auth: { token: tok(`user-${sockets.length}`, ['channel:read']) } }));
    }
    const open = await scrape();
    expect(open.sum(`${P}handshakes_total`, { namespace: '/chat', outcome: 'accepted' }) - before.sum(`${P}handshakes_total`, { namespace: '/chat', outcome: 'accepted' })).toBe(4);
    expect(open.sum(`${P}handshake_duration_count`, { namespace: '/chat', outcome: 'accepted' }) - before.sum(`${P}handshake_duration_count`, { namespace: '/chat', outcome: 'accepted' })).toBe(4);
    expect(open.sum(`${P}connections_open`, { namespace: '/chat', transport: 'websocket' }) - before.sum(`${P}connections_open`, { namespace: '/chat', transport: 'websocket' })).toBe(3);
    expect(open.sum(`${P}connections_open`, { namespace: '/chat', transport: 'polling' }) - before.sum(`${P}connections_open`, { namespace: '/chat', transport: 'polling' })).toBe(1);
    expect(open.sum(`${P}presence_online_users`) - before.sum(`${P}presence_online_users`)).toBe(4);
    await waitFor('4 online transitions', async () => (await scrape()).sum(`${P}presence_transitions_total`, { status: 'online' }) - before.sum(`${P}presence_transitions_total`, { status: 'online' }) === 4, 10_000);
    for (const socket of sockets) socket.disconnect();
    await waitFor('the gauge back down', async () => (await scrape()).sum(`${P}connections_open`, { namespace: '/chat' }) === before.sum(`${P}connections_open`, { namespace: '/chat' }), 10_000);
    const closed = await scrape();
    expect(closed.sum(`${P}disconnects_total`, { namespace: '/chat', reason: 'client' }) - before.sum(`${P}disconnects_total`, { namespace: '/chat', reason: 'client' })).toBe(4);
  });

  it('counts messages by declared event and refusal code; unknown names fold into (other)', async () => {
    const before = await scrape();
    const socket = await connected(sample.url, '/chat', { transports: ['websocket'], auth: { token: tok('reader', ['channel:read']) } });
    expect(await socket.emitWithAck('channel:join', { channelId: 'general' })).toEqual({ ok: true });
    expect(await socket.emitWithAck('channel:join', { channelId: 'random' })).toEqual({ ok: true });
    expect((await socket.emitWithAck('channel:join', { channelId: 42 })).error.code).toBe('VALIDATION_FAILED');
    for (let i = 0; i < 2; i += 1) expect((await socket.emitWithAck('message:send', { channelId: 'general', text: 'hi' })).error.code).toBe('FORBIDDEN');
    for (const name of ['no-such-event', 'another-one', 'user-chosen-12345']) expect((await socket.emitWithAck(name, {})).error.code).toBe('NOT_FOUND');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => after.sum(`${P}${name}`, labels) - before.sum(`${P}${name}`, labels);
    expect(delta('messages_total', { namespace: '/chat', event: 'channel:join' })).toBe(3);
    expect(delta('messages_total', { namespace: '/chat', event: 'message:send' })).toBe(2);
    expect(delta('messages_total', { namespace: '/chat', event: '(other)' })).toBe(3);
    expect(delta('messages_refused_total', { namespace: '/chat', event: 'channel:join', code: 'VALIDATION_FAILED' })).toBe(1);
    expect(delta('messages_refused_total', { namespace: '/chat', event: 'channel:join' })).toBe(1);
    expect(delta('messages_refused_total', { namespace: '/chat', event: 'message:send', code: 'FORBIDDEN' })).toBe(2);
    expect(delta('messages_refused_total', { namespace: '/chat', event: '(other)', code: 'NOT_FOUND' })).toBe(3);
    expect(after.samples.some((s) => Object.values(s.labels).some((v) => v.includes('no-such-event') || v.includes('user-chosen') || v === 'reader'))).toBe(false);
  });

  it('a ban shows in the moderation counter, in the disconnects (reason banned), and refuses the next handshake with BANNED', async () => {
    const before = await scrape();
    const token = tok('to-ban', ['channel:read']);
    const victim = await connected(sample.url, '/chat', { transports: ['websocket'], auth: { token } });
    const gone = new Promise<void>((resolve) => victim.once('disconnect', () => resolve()));
    const res = await fetch(`${sample.url}/moderation/users/to-ban/ban`, { method: 'POST', headers: { authorization: `Bearer ${tok('mod', ['moderation:write'])}` } });
    expect(res.status).toBe(200);
    await gone;
    const refused = await connect(sample.url, '/chat', { transports: ['websocket'], auth: { token } });
    expect(refused.error?.data?.code).toBe('BANNED');
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => after.sum(`${P}${name}`, labels) - before.sum(`${P}${name}`, labels);
    expect(delta('moderation_actions_total', { action: 'ban', origin: 'local' })).toBe(1);
    expect(delta('moderation_actions_total', {})).toBe(1);
    expect(delta('disconnects_total', { namespace: '/chat', reason: 'banned' })).toBe(1);
    expect(delta('handshakes_total', { namespace: '/chat', outcome: 'refused', code: 'BANNED' })).toBe(1);
    const unban = await fetch(`${sample.url}/moderation/users/to-ban/ban`, { method: 'DELETE', headers: { authorization: `Bearer ${tok('mod', ['moderation:write'])}` } });
    expect(unban.status).toBe(200);
    expect((await scrape()).sum(`${P}moderation_actions_total`, { action: 'unban' }) - before.sum(`${P}moderation_actions_total`, { action: 'unban' })).toBe(1);
  });

  it(`a flood past MESSAGE_RATE_PER_USER=${RATE}: the refusals, then the penalty disconnect of a client that keeps sending`, async () => {
    const before = await scrape();
    const socket = await connected(sample.url, '/chat', { transports: ['websocket'], auth: { token: tok('flooder', ['presence:read']) } });
    let disconnected = false;
    socket.once('disconnect', () => { disconnected = true; });
    const codes: string[] = [];
    // A persistent flooder: it keeps sending after its refusals (refusals inside the first burst are
    // forgiven by rateLimit.strikeGraceMs, so the penalty needs a client that does not stop).
    for (let i = 0; i < 5000 && !disconnected; i += 1) {
      const answer = await socket.timeout(5000).emitWithAck('presence:list', {}).catch(() => ({ error: { code: 'NO_ANSWER' } }));
      codes.push((answer as { error?: { code: string } }).error?.code ?? 'OK');
    }
    await waitFor('the penalty disconnect', () => disconnected);
    const sent = codes.length;
    expect(codes.slice(0, RATE).every((c) => c === 'OK')).toBe(true);
    // Every later message is refused (the last one's answer may not reach a closing client).
    expect(codes.slice(RATE).every((c) => c === 'RATE_LIMITED' || c === 'NO_ANSWER')).toBe(true);
    expect(codes.slice(RATE, -1).every((c) => c === 'RATE_LIMITED')).toBe(true);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) => after.sum(`${P}${name}`, labels) - before.sum(`${P}${name}`, labels);
    // Every refusal the client was told of is counted; the message in flight at the close may or may not be.
    const told = codes.filter((c) => c === 'RATE_LIMITED').length;
    expect(told).toBeGreaterThanOrEqual(sent - RATE - 1);
    expect(delta('messages_refused_total', { namespace: '/chat', event: 'presence:list', code: 'RATE_LIMITED' })).toBeGreaterThanOrEqual(told);
    expect(delta('messages_refused_total', { namespace: '/chat', event: 'presence:list', code: 'RATE_LIMITED' })).toBeLessThanOrEqual(sent - RATE);
    expect(delta('rate_limit_refusals_total', { scope: 'message' })).toBe(delta('messages_refused_total', { namespace: '/chat', event: 'presence:list', code: 'RATE_LIMITED' }));
    expect(delta('rate_limit_penalties_total', { namespace: '/chat' })).toBe(1);
    expect(delta('disconnects_total', { namespace: '/chat', reason: 'rate_limited' })).toBe(1);
    expect(delta('messages_total', { namespace: '/chat', event: 'presence:list' })).toBeGreaterThanOrEqual(RATE + told);
    expect(delta('messages_total', { namespace: '/chat', event: 'presence:list' })).toBeLessThanOrEqual(sent);
  });
});
