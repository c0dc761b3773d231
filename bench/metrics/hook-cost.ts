import { Subject } from 'rxjs';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import type { SecurityEventsService } from '../../lib/events/security-events.service.js';
import type { SecurityInventoryService } from '../../lib/inventory/security-inventory.service.js';
import { SecurityMetrics } from '../../lib/metrics/security-metrics.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { BENCH_SECRET } from '../support/protocol.js';

/** Nanoseconds of CPU per call of `fn`, best of `repeats` batches of `calls`. */
function nsPerCall(fn: (i: number) => void, calls: number, repeats = 5): number {
  let best = Infinity;
  for (let r = 0; r < repeats; r += 1) {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i += 1) fn(i);
    const used = process.cpuUsage(start);
    best = Math.min(best, ((used.user + used.system) * 1000) / calls);
  }
  return best;
}

/**
 * What the metrics add to one message and one handshake, measured on the hooks themselves (CPU
 * time of this thread, best of several batches: robust to a busy machine, unlike the end-to-end
 * ratio): a message is counted by `messageReceived` (plus `messageRefused` when refused); a
 * handshake by `handshakeSettled` (a counter and a histogram of the real SDK).
 */
export function measureHookCost(): { messageNs: number; refusedMessageNs: number; handshakeNs: number; disabledMessageNs: number } {
  const inventory = {
    getInventory: () => ({ namespaces: [{ namespace: '/chat', dynamic: false, handlers: [{ event: 'echo' }, { event: 'join' }] }] }),
  } as unknown as SecurityInventoryService;
  const events = { events$: new Subject() } as unknown as SecurityEventsService;
  const provider = new MeterProvider({ readers: [new PrometheusExporter({ preventServerStart: true })] });
  const on = new SecurityMetrics(resolveOptions({ jwt: { secret: BENCH_SECRET }, metrics: { meterProvider: provider } }), inventory, events, null);
  const off = new SecurityMetrics(resolveOptions({ jwt: { secret: BENCH_SECRET }, metrics: { enabled: false } }), inventory, events, null);
  on.onApplicationBootstrap();
  off.onApplicationBootstrap();
  const calls = 2_000_000;
  const messageNs = nsPerCall(() => on.messageReceived('/chat', 'echo'), calls);
  const refusedMessageNs = nsPerCall(() => on.messageRefused('/chat', 'echo', 'FORBIDDEN'), calls);
  const disabledMessageNs = nsPerCall(() => off.messageReceived('/chat', 'echo'), calls);
  const handshakeNs = nsPerCall(() => on.handshakeSettled('/chat', null, performance.now() - 1), 200_000);
  on.onApplicationShutdown();
  void provider.shutdown();
  return { messageNs, refusedMessageNs, handshakeNs, disabledMessageNs };
}
