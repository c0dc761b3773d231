import { ModerationBus, type ModerationCommand } from '../../lib/interfaces/moderation-bus.interface.js';
import { ModerationService } from '../../lib/index.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, client } from '../support/clients.js';
import { HandshakeGate, HeldHandshakeGateway } from '../support/held-handshake.gateway.js';
import { deleteKeys, releaseTestRedis, testRedisUrl, uniquePrefix } from '../support/redis.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

/**
 * THREATS case 53 (issue 14, finding 4) in cluster mode, two apps on one Redis: a permission
 * override set on node B while a handshake of the user is in flight on node A (past its
 * moderation read from Redis) is the socket's permissions when it opens on A.
 */
let url: string;
let prefix: string;
let a: TestApp;
let b: TestApp;

async function node(name: string): Promise<TestApp> {
  return startApp({ gateways: [HeldHandshakeGateway], providers: [HandshakeGate], security: { logInventory: false, redis: { url, keyPrefix: prefix, nodeId: name } } });
}

beforeAll(async () => {
  url = await testRedisUrl();
  prefix = uniquePrefix('modrace');
  [a, b] = await Promise.all([node('race-a'), node('race-b')]);
});
afterEach(() => closeAllClients());
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await deleteKeys(url, prefix);
  await releaseTestRedis();
});

/** Resolves once node `app` received a permissions command of `userId` from the bus. */
function heard(app: TestApp, userId: string): Promise<void> {
  return new Promise((resolve) => {
    const off = app.app.get<ModerationBus>(ModerationBus).subscribe((command: ModerationCommand) => {
      if (command.kind === 'permissions' && command.userId === userId) {
        off();
        resolve();
      }
    });
  });
}

describe('cluster: moderation during a handshake', () => {
  it.each([
    ['an override', ['presence:read'] as string[] | null, ['channel:*', 'presence:read'], ['presence:read']],
    ['a reset to the token', null, ['channel:read'], ['channel:read']],
  ])('%s set on node B while a handshake is in flight on node A applies to that socket', async (_name, override, tokenPerms, expected) => {
    const user = `racer-${override === null ? 'reset' : 'set'}`;
    if (override === null) await b.app.get(ModerationService).setPermissions('race', user, []);
    const gate = a.app.get(HandshakeGate);
    const socket = client(a.url, '/chat', { auth: { token: signToken({ sub: user, tenant: 'race', perms: tokenPerms }), hold: user } });
    const connected = new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    await waitFor('the handshake on A to reach the app middleware', () => gate.holds(user));
    const delivered = heard(a, user);
    await b.app.get(ModerationService).setPermissions('race', user, override);
    await delivered;
    gate.release(user);
    await connected;
    expect(await socket.timeout(5000).emitWithAck('whoami', {})).toEqual({ permissions: expected });
  });
});
