import { Subject } from 'rxjs';
import type { SecurityEventsService } from '../../lib/events/security-events.service.js';
import type { SecurityInventoryService } from '../../lib/inventory/security-inventory.service.js';
import { SecurityMetrics } from '../../lib/metrics/security-metrics.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { TestMetrics } from '../support/metrics-reader.js';
import { TEST_SECRET } from '../support/tokens.js';

/** Connections outside Socket.IO (SSE streams) in `connections.open`, with the same bounded names. */
describe('SecurityMetrics.streamOpened (SSE and other non-Socket.IO connections)', () => {
  const reader = new TestMetrics();
  const inventory = { getInventory: () => ({ namespaces: [{ namespace: '/chat', dynamic: false, handlers: [] }] }) } as unknown as SecurityInventoryService;
  const events = { events$: new Subject() } as unknown as SecurityEventsService;
  const metrics = new SecurityMetrics(resolveOptions({ jwt: { secret: TEST_SECRET }, metrics: { meterProvider: reader.provider } }), inventory, events, null);
  const open = (namespace: string) => reader.sum('realtime_security.connections.open', { namespace, transport: 'sse' });

  beforeAll(() => {
    metrics.declareNamespace('/chat/notifications');
    metrics.onApplicationBootstrap();
  });
  afterAll(async () => {
    metrics.onApplicationShutdown();
    await reader.shutdown();
  });

  it('counts open streams under a declared name, and falls back to 0 once they close (each close counts once)', async () => {
    const closeA = metrics.streamOpened('/chat/notifications');
    const closeB = metrics.streamOpened('/chat/notifications');
    expect(await open('/chat/notifications')).toBe(2);
    closeA();
    closeA();
    expect(await open('/chat/notifications')).toBe(1);
    closeB();
    expect(await open('/chat/notifications')).toBe(0);
  });

  it('an undeclared name counts as (other): a client-chosen path never becomes a series', async () => {
    const closers = Array.from({ length: 50 }, (_, i) => metrics.streamOpened(`/stream-${i}`));
    expect(await open('(other)')).toBe(50);
    const names = new Set((await reader.points()).map((p) => String(p.attributes.namespace ?? '')));
    expect([...names].filter((n) => n.startsWith('/stream-'))).toEqual([]);
    for (const close of closers) close();
    expect(await open('(other)')).toBe(0);
  });
});
