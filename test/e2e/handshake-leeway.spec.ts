import { startApp } from '../support/app.js';
import { connect, TRANSPORTS } from '../support/clients.js';
import { useProbeApp } from '../support/probe-app.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';

/**
 * THREATS.md case 3: `exp`/`nbf` around the configured leeway (`jwt.clockToleranceSeconds`).
 * Tokens are crafted relative to now with a 5 s margin on each side of the bound; nothing sleeps.
 */

const LEEWAY = 30;
const MARGIN = 5;

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

describe.each([LEEWAY, 0])('handshake: exp and nbf with a leeway of %i s', (leeway) => {
  const { t, probe } = useProbeApp({ security: { jwt: { secret: TEST_SECRET, clockToleranceSeconds: leeway } } });

  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('accepts a token whose exp passed less than the leeway ago, and handles its events', async () => {
      // With no leeway, "inside" means an exp still ahead by the margin.
      const token = signToken({}, { expiresInSeconds: leeway > 0 ? -(leeway - MARGIN) : MARGIN });
      const outcome = await connect(t.url, '/chat', { transports: [transport], auth: { token } });
      expect(outcome.error?.data).toBeUndefined();
      expect(outcome.connected).toBe(true);
      await expect(outcome.socket.emitWithAck('ev', {})).resolves.toMatchObject({ ok: true });
      expect(probe.callsOn('/chat')).toBe(1);
    });

    it('refuses a token whose exp passed more than the leeway ago with TOKEN_EXPIRED', async () => {
      const token = signToken({}, { expiresInSeconds: -(leeway + MARGIN) });
      const outcome = await connect(t.url, '/chat', { transports: [transport], auth: { token } });
      expect(outcome.connected).toBe(false);
      expect(outcome.error?.message).toBe('Connection refused');
      expect(outcome.error?.data).toEqual({ code: 'TOKEN_EXPIRED' });
      expect(probe.connections).toEqual([]);
    });

    it('refuses a token that expired long ago with TOKEN_EXPIRED', async () => {
      const token = signToken({}, { expiresInSeconds: -86_400 });
      const outcome = await connect(t.url, '/chat', { transports: [transport], auth: { token } });
      expect(outcome.error?.data).toEqual({ code: 'TOKEN_EXPIRED' });
    });

    it('accepts a token whose nbf is less than the leeway ahead', async () => {
      const token = signToken({ nbf: nowSeconds() + (leeway > 0 ? leeway - MARGIN : -MARGIN) });
      const outcome = await connect(t.url, '/chat', { transports: [transport], auth: { token } });
      expect(outcome.error?.data).toBeUndefined();
      expect(outcome.connected).toBe(true);
    });

    it('refuses a token whose nbf is more than the leeway ahead with UNAUTHORIZED', async () => {
      const token = signToken({ nbf: nowSeconds() + leeway + MARGIN });
      const outcome = await connect(t.url, '/chat', { transports: [transport], auth: { token } });
      expect(outcome.connected).toBe(false);
      expect(outcome.error?.data).toEqual({ code: 'UNAUTHORIZED' });
      expect(probe.connections).toEqual([]);
    });
  });
});

describe('handshake: an absurd leeway', () => {
  it.each([301, -1, 1.5, 86_400])('fails start-up for clockToleranceSeconds %p, naming the option', async (clockToleranceSeconds) => {
    await expect(startApp({ security: { jwt: { secret: TEST_SECRET, clockToleranceSeconds } } })).rejects.toThrow(/jwt\.clockToleranceSeconds/);
  });
});
