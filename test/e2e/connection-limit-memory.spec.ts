import {
  ConnectionLeaseStore,
  InMemoryConnectionLeaseStore,
  InMemoryPresenceStore,
  PresenceService,
} from '../../lib/index.js';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { startApp, type TestApp } from '../support/app.js';
import { closeAllClients, connect, connected } from '../support/clients.js';
import { pingGateway } from '../support/ping.gateway.js';
import { signToken } from '../support/tokens.js';
import { waitFor } from '../support/wait.js';

const ChatGateway = pingGateway('/chat');

const CYCLES = 2000;
const PARALLEL = 25;
const OFFLINE_RECORDS = 100;

/**
 * Thousands of connect/disconnect cycles (many users, several tenants, refused handshakes mixed
 * in) must leave every internal map and set as it was: the sizes are read, not the heap.
 */
describe('connection limit and presence: memory returns to baseline', () => {
  let t: TestApp;
  const presenceStore = new InMemoryPresenceStore({ maxOfflineRecords: OFFLINE_RECORDS });

  beforeAll(async () => {
    t = await startApp({
      gateways: [ChatGateway],
      // The per-address handshake rate limit is off: every cycle here comes from 127.0.0.1.
      security: { rateLimit: { handshakesPerAddress: 0 }, connections: { maxPerUser: 2 }, presence: { store: presenceStore, flapWindowMs: 20, broadcast: { namespaces: ['/chat'] } } },
    });
  });
  afterEach(() => closeAllClients());
  afterAll(async () => { await t.close(); });

  it(`${CYCLES} cycles leave no lease, session, index entry, queue or timer behind`, async () => {
    const lifecycle = t.app.get(ConnectionLifecycle);
    const presence = t.app.get(PresenceService);
    const leases = t.app.get<InMemoryConnectionLeaseStore>(ConnectionLeaseStore);
    // A control client stays connected throughout and keeps working.
    const control = await connected(t.url, '/chat', { transports: ['websocket'], auth: { token: signToken({ sub: 'control', tenant: 'acme' }) } });
    await presence.flush();
    const baseline = {
      lifecycle: lifecycle.stats,
      leaseUsers: leases.userCount,
      presence: presence.stats,
      online: presenceStore.stats.onlineUsers,
      onlineTenants: presenceStore.stats.onlineTenants,
    };
    expect(baseline.lifecycle).toEqual({ leases: 1, sessions: 1, users: 1, tenants: 1, expiryTimers: 1 });

    const started = Date.now();
    const refusals: string[] = [];
    for (let batch = 0; batch < CYCLES / PARALLEL; batch += 1) {
      await Promise.all(Array.from({ length: PARALLEL }, async (_, i) => {
        const n = batch * PARALLEL + i;
        // 500 distinct users over 7 tenants; every user connects several times.
        const token = signToken({ sub: `user-${n % 500}`, tenant: `tenant-${n % 7}`, perms: ['presence:read'] });
        const outcome = await connect(t.url, '/chat', { transports: ['websocket'], auth: { token } });
        if (!outcome.connected) refusals.push(String(outcome.error?.data?.code));
        outcome.socket.disconnect();
      }));
      // A few over-the-limit attempts refused at handshake, every other batch.
      if (batch % 2 === 0) {
        const token = signToken({ sub: 'greedy', tenant: 'acme' });
        const held = await Promise.all([0, 1, 2].map(() => connect(t.url, '/chat', { transports: ['websocket'], auth: { token } })));
        refusals.push(...held.filter((o) => !o.connected).map((o) => String(o.error?.data?.code)));
        held.forEach((o) => o.socket.disconnect());
      }
    }
    const elapsed = Date.now() - started;

    await waitFor('every cycle closed on the server', () => lifecycle.connectionCount === baseline.lifecycle.leases, 15_000);
    await waitFor('presence settled', async () => {
      await presence.flush();
      return presence.stats.dampedOffline === 0 && presence.stats.pendingWrites === 0;
    }, 15_000);

    expect(lifecycle.stats).toEqual(baseline.lifecycle);
    expect(leases.userCount).toBe(baseline.leaseUsers);
    expect(presence.stats).toEqual(baseline.presence);
    expect(presenceStore.stats.onlineUsers).toBe(baseline.online);
    expect(presenceStore.stats.onlineTenants).toBe(baseline.onlineTenants);
    // Offline users are remembered for lastSeen, but only up to the bound.
    expect(presenceStore.stats.offlineRecords).toBe(OFFLINE_RECORDS);
    expect(presenceStore.stats.records).toBe(OFFLINE_RECORDS + baseline.online);
    expect(presenceStore.stats.preferences).toBe(0);
    expect(await control.emitWithAck('ping', {})).toEqual({ ok: true });
    expect(await presence.get('acme', 'control')).toMatchObject({ status: 'online', connections: 1 });
    // Only the greedy user's third connection is refused, every time, with CONNECTION_LIMIT.
    expect(refusals).toEqual(Array.from({ length: CYCLES / PARALLEL / 2 }, () => 'CONNECTION_LIMIT'));
    // For the report, not an assertion.
    process.stdout.write(`memory cycles: ${CYCLES} connect/disconnect cycles in ${elapsed} ms (${refusals.length} refused at the limit)\n`);
  }, 120_000);
});
