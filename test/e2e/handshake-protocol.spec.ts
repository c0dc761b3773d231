import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { startApp, type TestApp } from '../support/app.js';
import { useProbeApp } from '../support/probe-app.js';
import { Probe, probeGateway } from '../support/probe.gateway.js';
import { RAW_TRANSPORTS, RawEngineClient } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS.md cases 8 (events in the same flight as a bad CONNECT) and 9 (protocol state abuse),
 * with a raw Engine.IO client: over polling the packets share one POST body (`\x1e`), over
 * websocket they are back-to-back frames.
 */

const good = () => JSON.stringify({ token: signToken() });
const BAD = JSON.stringify({ token: 'bad' });

describe('handshake: protocol abuse', () => {
  const { t, probe } = useProbeApp({ gateways: [probeGateway(undefined), probeGateway('/chat')] });
  let lifecycle: ConnectionLifecycle;

  beforeAll(() => { lifecycle = t.app.get(ConnectionLifecycle); });
  afterEach(async () => {
    await RawEngineClient.closeAll();
    // Whatever the path, every slot taken is released.
    await waitFor('every connection slot to be released', () => lifecycle.connectionCount === 0);
  });

  describe.each(RAW_TRANSPORTS)('over %s', (transport) => {
    describe('case 8: events in the same flight as a bad CONNECT', () => {
      const FLIGHTS: Array<[string, string[]]> = [
        ['/ : CONNECT, event, event with ack', [`0${BAD}`, '2["ev",{}]', '21["ev",{}]']],
        ['/chat : CONNECT, event, event with ack', [`0/chat,${BAD}`, '2/chat,["ev",{}]', '2/chat,1["ev",{}]']],
        ['a good / beside a bad /chat, then /chat events', [`0${good()}`, `0/chat,${BAD}`, '2/chat,["ev",{}]', '2/chat,2["ev",{}]']],
        ['a bad CONNECT with no auth, then events', ['0/chat,', '2/chat,["ev",{}]']],
      ];

      it.each(FLIGHTS)('%s: no handler runs, no socket opens', async (_name, packets) => {
        const raw = await RawEngineClient.open(t.url, { transport });
        await raw.send(...packets);
        await raw.closed;
        expect(probe.callsOn('/chat')).toBe(0);
        expect(probe.callsOn('/')).toBe(0);
        expect(probe.connectionsOn('/chat')).toBe(0);
        expect(raw.history.filter((p) => p.type === 2 || p.type === 3)).toEqual([]);
      });

      it('a good CONNECT with events in the same flight: closed (events before the CONNECT answer), no handler, slot released', async () => {
        const raw = await RawEngineClient.open(t.url, { transport });
        await raw.send(`0/chat,${good()}`, '2/chat,["ev",{}]', '2/chat,3["ev",{}]');
        await raw.closed;
        expect(probe.callsOn('/chat')).toBe(0);
      });
    });

    describe('case 9: protocol state abuse', () => {
      const BEFORE_CONNECT: Array<[string, string]> = [
        ['an event', '2["ev",{}]'],
        ['an event with ack', '21["ev",{}]'],
        ['an event to /chat', '2/chat,["ev",{}]'],
        ['an ACK', '31[]'],
        ['a DISCONNECT', '1'],
        ['a CONNECT_ERROR', '4{"message":"x"}'],
        ['a malformed packet', '2{not json'],
        ['an unknown packet type', '9'],
      ];

      it.each(BEFORE_CONNECT)('%s before any CONNECT closes the connection; no handler', async (_name, packet) => {
        const raw = await RawEngineClient.open(t.url, { transport });
        await raw.send(packet);
        await raw.closed;
        expect(probe.calls).toEqual([]);
        expect(probe.connections).toEqual([]);
      });

      it('an event to a namespace it never connected closes the connection; no handler there', async () => {
        const raw = await RawEngineClient.open(t.url, { transport });
        expect((await raw.connect('/', JSON.parse(good()) as Record<string, unknown>)).type).toBe(0);
        await raw.send('2/chat,["ev",{}]');
        await raw.closed;
        expect(probe.callsOn('/chat')).toBe(0);
      });

      it('an event to a namespace whose CONNECT was refused closes the connection; no handler', async () => {
        const raw = await RawEngineClient.open(t.url, { transport });
        expect((await raw.connect('/')).type).toBe(4);
        await raw.send('2["ev",{}]');
        await raw.closed;
        expect(probe.calls).toEqual([]);
      });

      it('CONNECT twice on a connected namespace closes the connection; the second never reaches the app', async () => {
        const raw = await RawEngineClient.open(t.url, { transport });
        expect((await raw.connect('/chat', { token: signToken() })).type).toBe(0);
        await raw.send(`0/chat,${JSON.stringify({ token: signToken({ sub: 'bob' }) })}`);
        await raw.closed;
        expect(probe.connectionsOn('/chat')).toBe(1);
      });

      it('CONNECT twice in one flight opens at most one socket on the namespace', async () => {
        const raw = await RawEngineClient.open(t.url, { transport });
        await raw.send(`0/chat,${good()}`, `0/chat,${JSON.stringify({ token: signToken({ sub: 'bob' }) })}`);
        const answer = await raw.next((p) => p.nsp === '/chat' && (p.type === 0 || p.type === 4)).catch(() => null);
        await raw.close();
        expect(probe.connectionsOn('/chat')).toBeLessThanOrEqual(1);
        expect(raw.history.filter((p) => p.nsp === '/chat' && p.type === 0).length).toBeLessThanOrEqual(1);
        if (answer?.type === 0) expect(probe.connectionsOn('/chat')).toBe(1);
      });
    });
  });
});

describe('handshake: a client that never sends CONNECT', () => {
  const CONNECT_TIMEOUT_MS = 300;
  let t: TestApp;
  let probe: Probe;
  let lifecycle: ConnectionLifecycle;

  beforeAll(async () => {
    t = await startApp({ gateways: [probeGateway('/chat')], providers: [Probe], security: { transport: { connectTimeoutMs: CONNECT_TIMEOUT_MS } } });
    probe = t.app.get(Probe);
    lifecycle = t.app.get(ConnectionLifecycle);
  });
  afterEach(() => RawEngineClient.closeAll());
  afterAll(async () => { await t.close(); });

  it.each(RAW_TRANSPORTS)('is closed after transport.connectTimeoutMs (%s)', async (transport) => {
    const opened = Date.now();
    const raw = await RawEngineClient.open(t.url, { transport });
    await raw.closed;
    const elapsed = Date.now() - opened;
    expect(elapsed).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 20);
    expect(elapsed).toBeLessThan(CONNECT_TIMEOUT_MS + 5000);
    expect(raw.history).toEqual([]);
  });

  it.each(RAW_TRANSPORTS)('is closed after the timeout when its only CONNECT was refused (%s)', async (transport) => {
    const raw = await RawEngineClient.open(t.url, { transport });
    expect((await raw.connect('/chat', { token: 'bad' })).type).toBe(4);
    await raw.closed;
    expect(probe.connections).toEqual([]);
  });

  it.each(RAW_TRANSPORTS)('is not closed once a CONNECT succeeded (%s)', async (transport) => {
    const raw = await RawEngineClient.open(t.url, { transport });
    expect((await raw.connect('/chat', { token: signToken() })).type).toBe(0);
    // Another client that never connects shows the timeout has passed for both.
    const idle = await RawEngineClient.open(t.url, { transport });
    await idle.closed;
    await raw.send('2/chat,5["ev",{}]');
    await expect(raw.next((p) => p.type === 3 && p.id === 5)).resolves.toMatchObject({ data: [{ ok: true }] });
    expect(raw.isClosed).toBe(false);
    expect(lifecycle.connectionCount).toBe(1);
  });
});
