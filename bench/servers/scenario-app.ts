import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { ThrottlerModule } from '@nestjs/throttler';
import { RealtimeSecurityModule, SecureIoAdapter, type RealtimeSecurityOptions } from '../../lib/index.js';
import { BENCH_SECRET, type DispatchOnlyScenario, type ScenarioName } from '../support/protocol.js';
import { BareNestNoopGateway } from './bare-nest-noop.gateway.js';
import { BareNestGateway } from './bare-nest.gateway.js';
import { NaiveGateway } from './naive.gateway.js';
import { SecuredGateway } from './secured.gateway.js';
import { SecuredNoValidationGateway } from './secured-no-validation.gateway.js';
import { TunedIoAdapter } from './tuned-io.adapter.js';
import { TunedGateway } from './tuned.gateway.js';

/** Nest scenarios (every one but `raw`). */
export type NestScenario = Exclude<ScenarioName, 'raw'> | DispatchOnlyScenario;

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

function nestModule(scenario: NestScenario, redisUrl: string | undefined): DynamicModule {
  @Module({})
  class BenchModule {}
  // The same rate limit as `secured`: set so the load never reaches it.
  const throttler = ThrottlerModule.forRoot([{ ttl: 10_000, limit: 1_000_000 }]);
  switch (scenario) {
    case 'bareNest':
      return { module: BenchModule, providers: [BareNestGateway] };
    case 'bareNestNoopGuardPipe':
      return { module: BenchModule, providers: [BareNestNoopGateway] };
    case 'naive':
      return { module: BenchModule, imports: [JwtModule.register({ secret: BENCH_SECRET }), throttler], providers: [NaiveGateway] };
    case 'tuned':
      return { module: BenchModule, imports: [throttler], providers: [TunedGateway] };
    case 'securedNoValidation':
      return { module: BenchModule, imports: [RealtimeSecurityModule.forRoot(securityOptions(undefined))], providers: [SecuredNoValidationGateway] };
    case 'secured':
    case 'securedRedis':
      if (scenario === 'securedRedis' && redisUrl === undefined) throw new Error('securedRedis needs a Redis URL');
      return { module: BenchModule, imports: [RealtimeSecurityModule.forRoot(securityOptions(scenario === 'securedRedis' ? redisUrl : undefined))], providers: [SecuredGateway] };
  }
}

/** One scenario's Nest app, listening on 127.0.0.1 on a free port. */
export async function startScenarioApp(scenario: NestScenario, redisUrl: string | undefined): Promise<{ app: INestApplication; port: number }> {
  const app: INestApplication = await NestFactory.create(nestModule(scenario, redisUrl), { logger: ['error'] });
  const adapter = scenario === 'secured' || scenario === 'securedRedis' || scenario === 'securedNoValidation' ? new SecureIoAdapter(app) : scenario === 'tuned' ? new TunedIoAdapter(app) : new IoAdapter(app);
  app.useWebSocketAdapter(adapter);
  await app.listen(0, '127.0.0.1');
  return { app, port: (app.getHttpServer().address() as { port: number }).port };
}
