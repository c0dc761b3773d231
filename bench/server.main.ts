/**
 * One server under test, in its own process (started by bench/run.ts with `--expose-gc`, pinned to
 * one core). Usage: node server.main.js <scenario> [redisUrl]. Answers over IPC: `cpu` (its own
 * `process.cpuUsage()`), `mem` (`process.memoryUsage()` after GC), `connections`, `stop`.
 */
import 'reflect-metadata';
import { writeHeapSnapshot } from 'node:v8';
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { ThrottlerModule } from '@nestjs/throttler';
import { RealtimeSecurityModule, SecureIoAdapter, type RealtimeSecurityOptions } from '../lib/index.js';
import { serveIpc } from './support/ipc.js';
import { BENCH_SECRET, connectionCounter, SCENARIOS, type CpuSnapshot, type MemorySnapshot, type ScenarioName, type ServerReady } from './support/protocol.js';
import { BareNestGateway } from './servers/bare-nest.gateway.js';
import { NaiveGateway } from './servers/naive.gateway.js';
import { startRawServer } from './servers/raw.server.js';
import { SecuredGateway } from './servers/secured.gateway.js';

const gc = (globalThis as { gc?: () => void }).gc;

/** The library's settings for the bench: defaults, except limits raised so they never trigger. */
function securityOptions(redisUrl: string | undefined): RealtimeSecurityOptions {
  return {
    jwt: { secret: BENCH_SECRET },
    logSecurityEvents: false,
    logInventory: false,
    // Limits stay on, set so the load never reaches them (each bench user holds one socket).
    rateLimit: { messageLimit: 1_000_000, messageWindowMs: 10_000, handshakesPerAddress: 1_000_000, handshakeWindowMs: 60_000 },
    connections: { maxPerUser: 5, maxTotal: 100_000 },
    ...(redisUrl !== undefined ? { redis: { url: redisUrl, keyPrefix: `rts-bench:${process.pid}:` } } : {}),
  };
}

function nestModule(scenario: ScenarioName, redisUrl: string | undefined): DynamicModule {
  @Module({})
  class BenchModule {}
  switch (scenario) {
    case 'bareNest':
      return { module: BenchModule, providers: [BareNestGateway] };
    case 'naive':
      return {
        module: BenchModule,
        imports: [JwtModule.register({ secret: BENCH_SECRET }), ThrottlerModule.forRoot([{ ttl: 10_000, limit: 1_000_000 }])],
        providers: [NaiveGateway],
      };
    case 'secured':
    case 'securedRedis':
      return { module: BenchModule, imports: [RealtimeSecurityModule.forRoot(securityOptions(scenario === 'securedRedis' ? redisUrl : undefined))], providers: [SecuredGateway] };
    default:
      throw new Error(`no Nest module for ${scenario}`);
  }
}

async function start(scenario: ScenarioName, redisUrl: string | undefined): Promise<{ port: number; close(): Promise<void> }> {
  if (scenario === 'raw') return startRawServer();
  const app: INestApplication = await NestFactory.create(nestModule(scenario, redisUrl), { logger: ['error'] });
  app.useWebSocketAdapter(scenario === 'secured' || scenario === 'securedRedis' ? new SecureIoAdapter(app) : new IoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  return { port, close: () => app.close() };
}

async function main(): Promise<void> {
  const scenario = process.argv[2] as ScenarioName;
  if (!SCENARIOS.includes(scenario)) throw new Error(`unknown scenario ${String(scenario)}`);
  if (gc === undefined) throw new Error('run with --expose-gc');
  const server = await start(scenario, process.argv[3]);
  serveIpc({
    cpu: (): CpuSnapshot => {
      const usage = process.cpuUsage();
      return { user: usage.user, system: usage.system, atMs: performance.now() };
    },
    mem: (): MemorySnapshot => {
      for (let i = 0; i < 3; i++) gc();
      const usage = process.memoryUsage();
      return { heapUsed: usage.heapUsed, rss: usage.rss, connections: connectionCounter.open };
    },
    connections: (): number => connectionCounter.open,
    /** Writes a heap snapshot (after GC) to `args.path`, for digging into memory per connection. */
    heapSnapshot: (args: { path: string }): string => {
      for (let i = 0; i < 3; i++) gc();
      return writeHeapSnapshot(args.path);
    },
    stop: async (): Promise<true> => {
      await server.close();
      setImmediate(() => process.exit(0));
      return true;
    },
  });
  process.send?.({ ready: { port: server.port } satisfies ServerReady });
}

main().catch((error: unknown) => {
  process.send?.({ failed: error instanceof Error ? error.message : String(error) });
  console.error(error);
  process.exit(1);
});
