import { ModerationService } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { CapturingLogger } from '../support/capturing-logger.js';
import { pingGateway } from '../support/ping.gateway.js';
import { RAW_TRANSPORTS, RawEngineClient, type SioPacket } from '../support/raw-engine.js';
import { signToken } from '../support/tokens.js';

/**
 * THREATS case 51 (issue 14, finding 2): Socket.IO keeps an Engine.IO connection open after a
 * refused CONNECT, and the per-address handshake limit counted Engine.IO handshakes only, so one
 * connection could send CONNECTs without end (credential guessing, a log flood from a banned
 * user, Redis churn). Every CONNECT is now charged to the address and, once authenticated, to
 * the user; a connection is closed after `refusedConnectsPerConnection` refusals; refusal log
 * lines are throttled.
 */

const code = (p: SioPacket) => (p.data as { data?: { code?: string } }).data?.code;

let ackId = 0;

/**
 * Connects `nsp` then leaves it (`41`), `times` times on one connection whose `/` is connected;
 * the answers, in order. A `ping` round trip on `/` after each leave: the server has handled it.
 */
async function churn(raw: RawEngineClient, nsp: string, token: string, times: number): Promise<SioPacket[]> {
  const answers: SioPacket[] = [];
  for (let i = 0; i < times; i += 1) {
    const answer = await raw.connect(nsp, { token });
    answers.push(answer);
    if (answer.type !== 0) break;
    ackId += 1;
    const id = ackId;
    await raw.send(`1${nsp},`, `2${id}["ping",{}]`);
    await raw.next((p) => p.type === 3 && p.nsp === '/' && p.id === id);
  }
  return answers;
}

describe.each(RAW_TRANSPORTS)('CONNECT floods inside one Engine.IO connection, over %s', (transport) => {
  afterEach(() => RawEngineClient.closeAll());

  describe('defaults', () => {
    let t: TestApp;
    beforeAll(async () => { t = await startApp({ gateways: [pingGateway('/chat')] }); });
    afterAll(async () => { await t.close(); });

    it('the third refused CONNECT closes the connection: no fourth guess on it', async () => {
      const raw = await RawEngineClient.open(t.url, { transport });
      for (let guess = 1; guess <= 3; guess += 1) {
        const answer = await raw.connect('/chat', { token: `guess-${guess}` });
        expect(answer.type).toBe(4);
        expect(code(answer)).toBe('UNAUTHORIZED');
      }
      // A fourth guess is never answered: the connection is closed.
      await raw.send('0/chat,{"token":"guess-4"}').catch(() => undefined);
      await raw.closed;
      expect(raw.history.filter((p) => p.type === 4)).toHaveLength(3);
    });

    it('a namespace kept connected does not keep the connection open for guessing on another', async () => {
      const raw = await RawEngineClient.open(t.url, { transport });
      expect((await raw.connect('/', { token: signToken({ sub: 'keeper' }) })).type).toBe(0);
      for (let guess = 1; guess <= 3; guess += 1) expect((await raw.connect('/chat', { token: `guess-${guess}` })).type).toBe(4);
      await raw.closed;
    });

    it('two refusals then a valid CONNECT: the connection stays usable', async () => {
      const raw = await RawEngineClient.open(t.url, { transport });
      expect((await raw.connect('/chat', { token: 'typo' })).type).toBe(4);
      expect((await raw.connect('/chat', { token: 'typo-2' })).type).toBe(4);
      expect((await raw.connect('/chat', { token: signToken({ sub: 'careful' }) })).type).toBe(0);
      expect(raw.isClosed).toBe(false);
    });
  });

  describe('per user', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ gateways: [pingGateway('/chat'), pingGateway()], security: { rateLimit: { handshakesPerAddress: 0, connectsPerUser: 5 } } });
    });
    afterAll(async () => { await t.close(); });

    it('CONNECT/DISCONNECT churn is refused RATE_LIMITED past connectsPerUser; another user is unaffected', async () => {
      const raw = await RawEngineClient.open(t.url, { transport });
      const token = signToken({ sub: `churner-${transport}` });
      // `/` stays connected (one CONNECT), `/chat` churns.
      expect((await raw.connect('/', { token })).type).toBe(0);
      const answers = await churn(raw, '/chat', token, 20);
      expect(answers.map((a) => a.type)).toEqual([0, 0, 0, 0, 4]);
      expect(code(answers[4] as SioPacket)).toBe('RATE_LIMITED');
      const other = await RawEngineClient.open(t.url, { transport });
      expect((await other.connect('/chat', { token: signToken({ sub: `bystander-${transport}` }) })).type).toBe(0);
    });
  });

  describe('per address', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({ gateways: [pingGateway('/chat'), pingGateway()], security: { rateLimit: { handshakesPerAddress: 6, connectsPerUser: 0 } } });
    });
    afterAll(async () => { await t.close(); });

    it('every CONNECT after a connection\'s first takes a token from the address bucket', async () => {
      const raw = await RawEngineClient.open(t.url, { transport });
      const token = signToken({ sub: 'address-churner' });
      // The Engine.IO handshake took one token and covers this first CONNECT; five are left.
      expect((await raw.connect('/', { token })).type).toBe(0);
      const answers = await churn(raw, '/chat', token, 20);
      expect(answers.map((a) => a.type)).toEqual([0, 0, 0, 0, 0, 4]);
      expect(code(answers[5] as SioPacket)).toBe('RATE_LIMITED');
    });
  });

  describe('a banned user reconnecting in a loop', () => {
    const logger = new CapturingLogger();
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({
        gateways: [pingGateway('/chat')],
        logger,
        security: { logSecurityEvents: true, rateLimit: { handshakesPerAddress: 0, connectsPerUser: 0, refusedConnectsPerConnection: 100 } },
      });
      await t.app.get(ModerationService).banUser('acme', 'looper');
    });
    afterAll(async () => { await t.close(); });

    it('writes a bounded number of log lines, not one per refusal', async () => {
      const raw = await RawEngineClient.open(t.url, { transport });
      const before = logger.matching('banned code=BANNED').length;
      const token = signToken({ sub: 'looper' });
      for (let i = 0; i < 60; i += 1) expect(code(await raw.connect('/chat', { token }))).toBe('BANNED');
      const lines = logger.matching('banned code=BANNED').length - before;
      expect(lines).toBeGreaterThan(0);
      expect(lines).toBeLessThanOrEqual(20);
    });
  });
});
