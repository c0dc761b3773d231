import { Module, type DynamicModule } from '@nestjs/common';
import { RealtimeSecurityModule, type JwtVerificationOptions } from '../lib/index.js';
import { ChatGateway } from './chat/chat.gateway.js';
import { SAMPLE_CONFIG, type SampleConfig } from './config/sample-config.js';
import { DemoLoginController } from './demo/demo-login.controller.js';
import { HealthController } from './health/health.controller.js';
import { ModerationPresenceController } from './moderation/moderation-presence.controller.js';
import { ModerationRoomsController } from './moderation/moderation-rooms.controller.js';
import { ModerationUsersController } from './moderation/moderation-users.controller.js';
import { ModerationGateway } from './moderation/moderation.gateway.js';
import { WebController } from './web/web.controller.js';
import { NotificationsController } from './chat/notifications.controller.js';
import { StreamTicketController } from './chat/stream-ticket.controller.js';

/** The demo login signs HS256 tokens with JWT_SECRET: only while tokens are verified that way. */
export function demoLoginEnabled(config: SampleConfig): boolean {
  return config.demoLogin && config.jwksUrl === null;
}

/**
 * JWKS_URL: tokens of an identity provider, key chosen by `kid` from its key set (RS256, ES256,
 * EdDSA). Otherwise HS256 with JWT_SECRET. JWT_ISSUER / JWT_AUDIENCE are required when set.
 */
function jwtOptions(config: SampleConfig): JwtVerificationOptions {
  const claims = {
    ...(config.jwtIssuer !== null ? { issuer: [config.jwtIssuer] } : {}),
    ...(config.jwtAudience !== null ? { audience: [config.jwtAudience] } : {}),
  };
  return config.jwksUrl !== null
    ? { jwks: config.jwksUrl, algorithms: ['RS256', 'ES256', 'EdDSA'], ...claims }
    : { secret: config.jwtSecret, algorithms: ['HS256'], ...claims };
}

/** The sample app: the library configured once from the environment, plus its gateways and routes. */
@Module({})
export class AppModule {
  static register(config: SampleConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        RealtimeSecurityModule.forRoot({
          jwt: jwtOptions(config),
          credentials: { authPayload: true, authorizationHeader: true, cookieName: 'rt_session' },
          origins: { allowed: config.allowedOrigins, enforce: 'cookie' },
          connections: { maxPerUser: config.maxConnectionsPerUser },
          // MESSAGE_RATE_PER_USER per 10 s per user (all sockets; all nodes in cluster mode), HANDSHAKE_RATE_PER_ADDRESS per minute.
          // TRUSTED_PROXIES: handshakes from these proxies count per X-Forwarded-For client (never trusted by default).
          rateLimit: {
            messageLimit: config.messageRatePerUser, messageWindowMs: 10_000, handshakesPerAddress: config.handshakeRatePerAddress, handshakeWindowMs: 60_000,
            ...(config.trustedProxies.length > 0 ? { trustedProxies: config.trustedProxies } : {}),
          },
          // presence_update to same-tenant sockets on /chat holding presence:read.
          // Room presence: who is in each channel; presence_diff to channel members on /chat holding presence:read.
          presence: { broadcast: { namespaces: ['/chat'] }, rooms: { enabled: true, diff: { namespaces: ['/chat'] } } },
          // GET /chat/notifications: stream tickets unless STREAM_TICKETS=off.
          sse: { tickets: { enabled: config.streamTickets } },
          // REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster) switches on cluster mode; NODE_ID names this instance.
          ...(config.redisUrl !== null ? { redis: { url: config.redisUrl, nodeId: config.nodeId } } : {}),
          ...(config.redisClusterNodes !== null ? { redis: { nodes: config.redisClusterNodes, nodeId: config.nodeId } } : {}),
        }),
      ],
      // The demo login is demo-only: DEMO_LOGIN=off removes its routes, and so does JWKS_URL (it signs with JWT_SECRET).
      controllers: [HealthController, WebController, ModerationPresenceController, ModerationRoomsController, ModerationUsersController, NotificationsController, ...(config.streamTickets ? [StreamTicketController] : []), ...(demoLoginEnabled(config) ? [DemoLoginController] : [])],
      providers: [{ provide: SAMPLE_CONFIG, useValue: config }, ChatGateway, ModerationGateway],
    };
  }
}
