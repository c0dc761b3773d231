import { readFileSync } from 'node:fs';
import type { Meter, MeterProvider } from '@opentelemetry/api';
import { Subject } from 'rxjs';
import type { RedisConnection } from '../../lib/cluster/redis-connection.js';
import type { SecurityEventsService } from '../../lib/events/security-events.service.js';
import type { SecurityInventoryService } from '../../lib/inventory/security-inventory.service.js';
import { SecurityMetrics } from '../../lib/metrics/security-metrics.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { TEST_SECRET } from '../support/tokens.js';

type Kind = 'counter' | 'histogram' | 'upDown' | 'observableCounter' | 'observableUpDown' | 'observableGauge';

/** A meter that only notes which instruments are created (name and kind). */
function recordingProvider(created: Map<string, Kind>): MeterProvider {
  const instrument = { add: () => undefined, record: () => undefined, addCallback: () => undefined, removeCallback: () => undefined };
  const make = (kind: Kind) => (name: string) => {
    created.set(name, kind);
    return instrument;
  };
  const meter = {
    createCounter: make('counter'),
    createHistogram: make('histogram'),
    createUpDownCounter: make('upDown'),
    createGauge: make('observableGauge'),
    createObservableCounter: make('observableCounter'),
    createObservableUpDownCounter: make('observableUpDown'),
    createObservableGauge: make('observableGauge'),
    addBatchObservableCallback: () => undefined,
    removeBatchObservableCallback: () => undefined,
  } as unknown as Meter;
  return { getMeter: () => meter };
}

/** The Prometheus series names the exporter makes of an instrument (dots to `_`, `_total` on counters, `_bucket` & co. on histograms). */
function prometheusNames(name: string, kind: Kind): string[] {
  const base = name.replace(/\./g, '_');
  if (kind === 'counter' || kind === 'observableCounter') return [`${base}_total`];
  if (kind === 'histogram') return [`${base}_bucket`, `${base}_sum`, `${base}_count`];
  return [base];
}

describe('docs/grafana-dashboard.json', () => {
  const dashboard = readFileSync(new URL('../../docs/grafana-dashboard.json', import.meta.url), 'utf8');
  const created = new Map<string, Kind>();

  beforeAll(() => {
    const inventory = { getInventory: () => ({ namespaces: [] }) } as unknown as SecurityInventoryService;
    const events = { events$: new Subject() } as unknown as SecurityEventsService;
    const commands = { status: 'ready', on: () => commands, off: () => commands };
    const redis = { commands, onCommandFailure: () => () => undefined } as unknown as RedisConnection;
    const metrics = new SecurityMetrics(resolveOptions({ jwt: { secret: TEST_SECRET }, metrics: { meterProvider: recordingProvider(created) } }), inventory, events, redis);
    metrics.onApplicationBootstrap();
    metrics.onApplicationShutdown();
  });

  it('is valid JSON with panels and a Prometheus data source variable', () => {
    const parsed = JSON.parse(dashboard) as { panels: { targets?: { expr: string }[] }[]; templating: { list: { name: string }[] } };
    expect(parsed.panels.filter((p) => (p.targets ?? []).length > 0).length).toBeGreaterThanOrEqual(10);
    expect(parsed.templating.list.map((v) => v.name)).toEqual(expect.arrayContaining(['datasource', 'instance']));
  });

  it('charts only series the library exports, and every instrument it creates', () => {
    const exported = new Set([...created].flatMap(([name, kind]) => prometheusNames(name, kind)));
    const charted = new Set(dashboard.match(/realtime_security_[a-z_]+/g));
    expect([...charted].filter((name) => !exported.has(name))).toEqual([]);
    const uncharted = [...created].filter(([name, kind]) => !prometheusNames(name, kind).some((n) => charted.has(n))).map(([name]) => name);
    expect(uncharted).toEqual([]);
    expect(created.size).toBe(15);
  });
});
