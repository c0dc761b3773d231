import { ModerationService } from '../../lib/index.js';
import { ModerationEpochs } from '../../lib/moderation/moderation-epochs.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, client, connect } from '../support/clients.js';
import { HandshakeGate, HeldHandshakeGateway } from '../support/held-handshake.gateway.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS case 53 (issue 14, finding 4), single node: a moderation change that lands while a
 * handshake of the user is in flight (after its moderation read, before its socket opens) is
 * applied to that socket before it opens. The handshake is held in the app's own middleware.
 */
describe('moderation during a handshake', () => {
  let t: TestApp;
  let gate: HandshakeGate;
  let moderation: ModerationService;

  beforeAll(async () => {
    t = await startApp({ gateways: [HeldHandshakeGateway], providers: [HandshakeGate] });
    gate = t.app.get(HandshakeGate);
    moderation = t.app.get(ModerationService);
  });
  afterEach(async () => {
    closeAllClients();
    await moderation.setPermissions('acme', 'racer', null);
    await moderation.unbanUser('acme', 'racer');
  });
  afterAll(async () => { await t.close(); });

  it('a permission override set during the handshake is the socket\'s permissions when it opens', async () => {
    const socket = client(t.url, '/chat', { auth: { token: signToken({ sub: 'racer', perms: ['channel:*', 'presence:read'] }), hold: 'override' } });
    const connected = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    await waitFor('the handshake to reach the app middleware', () => gate.holds('override'));
    await moderation.setPermissions('acme', 'racer', ['presence:read']);
    gate.release('override');
    await connected;
    expect(await socket.timeout(5000).emitWithAck('whoami', {})).toEqual({ permissions: ['presence:read'] });
    expect(t.app.get(ModerationEpochs).size).toBe(0);
  });

  it('an override reset to the token\'s own during the handshake gives the token\'s permissions back', async () => {
    await moderation.setPermissions('acme', 'racer', []);
    const socket = client(t.url, '/chat', { auth: { token: signToken({ sub: 'racer', perms: ['channel:read'] }), hold: 'reset' } });
    const connected = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    await waitFor('the handshake to reach the app middleware', () => gate.holds('reset'));
    await moderation.setPermissions('acme', 'racer', null);
    gate.release('reset');
    await connected;
    expect(await socket.timeout(5000).emitWithAck('whoami', {})).toEqual({ permissions: ['channel:read'] });
  });

  it('a ban set during the handshake refuses it with BANNED: the socket never opens', async () => {
    const socket = client(t.url, '/chat', { auth: { token: signToken({ sub: 'racer' }), hold: 'ban' } });
    let opened = false;
    socket.once('connect', () => { opened = true; });
    const refused = new Promise<{ data?: { code?: string } }>((resolve) => socket.once('connect_error', (error) => resolve(error as { data?: { code?: string } })));
    await waitFor('the handshake to reach the app middleware', () => gate.holds('ban'));
    await moderation.banUser('acme', 'racer');
    gate.release('ban');
    expect((await refused).data?.code).toBe('BANNED');
    expect(opened).toBe(false);
    await moderation.unbanUser('acme', 'racer');
    expect((await connect(t.url, '/chat', { auth: { token: signToken({ sub: 'racer' }) } })).error).toBeUndefined();
  });
});
