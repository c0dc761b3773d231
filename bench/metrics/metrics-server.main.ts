/**
 * One server of the metrics bench (started by metrics.bench.ts with `--expose-gc`, pinned like the
 * main bench's servers): the `secured` echo gateway with metrics `on` (the real OpenTelemetry SDK,
 * a Prometheus reader collected once a second, as a scraper would) or `off` (`metrics.enabled:
 * false`). Usage: node metrics-server.main.js on|off. Answers over IPC: `cpu`, `connections`,
 * `scrape` (the Prometheus text, `on` only), `stop`.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { RealtimeSecurityModule, SecureIoAdapter } from '../../lib/index.js';
import { serveIpc } from '../support/ipc.js';
import { BENCH_SECRET, connectionCounter, type CpuSnapshot, type ServerReady } from '../support/protocol.js';
import { SecuredGateway } from '../servers/secured.gateway.js';

/** How often the reader collects (a Prometheus scrape every second: a busier reader than most). */
const COLLECT_MS = 1000;

async function main(): Promise<void> {
  const mode = process.argv[2];
  if (mode !== 'on' && mode !== 'off') throw new Error('usage: metrics-server.main.js on|off');
  const exporter = mode === 'on' ? new PrometheusExporter({ preventServerStart: true }) : null;
  const provider = exporter !== null ? new MeterProvider({ readers: [exporter] }) : null;
  const serializer = new PrometheusSerializer();
  const scrape = async (): Promise<string> => {
    if (exporter === null) return '';
    const { resourceMetrics } = await exporter.collect();
    return serializer.serialize(resourceMetrics);
  };
  const timer = exporter !== null ? setInterval(() => void scrape(), COLLECT_MS) : null;

  @Module({
    imports: [RealtimeSecurityModule.forRoot({
      jwt: { secret: BENCH_SECRET },
      logSecurityEvents: false,
      logInventory: false,
      rateLimit: { messageLimit: 1_000_000, messageWindowMs: 10_000, handshakesPerAddress: 1_000_000, handshakeWindowMs: 60_000 },
      connections: { maxPerUser: 5, maxTotal: 100_000 },
      metrics: provider !== null ? { meterProvider: provider } : { enabled: false },
    })],
    providers: [SecuredGateway],
  })
  class MetricsBenchModule {}

  const app = await NestFactory.create(MetricsBenchModule, { logger: ['error'] });
  app.useWebSocketAdapter(new SecureIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  serveIpc({
    cpu: (): CpuSnapshot => {
      const usage = process.cpuUsage();
      return { user: usage.user, system: usage.system, atMs: performance.now() };
    },
    connections: (): number => connectionCounter.open,
    scrape: async (): Promise<string> => scrape(),
    stop: async (): Promise<true> => {
      if (timer !== null) clearInterval(timer);
      await app.close();
      await provider?.shutdown();
      setImmediate(() => process.exit(0));
      return true;
    },
  });
  process.send?.({ ready: { port } satisfies ServerReady });
}

main().catch((error: unknown) => {
  process.send?.({ failed: error instanceof Error ? error.message : String(error) });
  console.error(error);
  process.exit(1);
});
