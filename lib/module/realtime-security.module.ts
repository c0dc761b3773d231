import { Module } from '@nestjs/common';
import { HandshakePipeline } from '../adapters/handshake.pipeline.js';
import { MessagePipeline } from '../adapters/message.pipeline.js';
import { NamespaceSecurity } from '../adapters/namespace-security.js';
import { ConnectionLifecycle } from '../connections/connection-lifecycle.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { RealtimeAuthenticator } from '../interfaces/authenticator.interface.js';
import { ConnectionLeaseStore } from '../interfaces/connection-lease-store.interface.js';
import { ModerationStore } from '../interfaces/moderation-store.interface.js';
import { RealtimeSecurityConfigurableModule } from './realtime-security.module-definition.js';
import {
  authenticatorProvider,
  connectionLeaseStoreProvider,
  moderationStoreProvider,
  resolvedOptionsProvider,
} from './realtime-security.providers.js';

/**
 * Configure once, globally:
 * `RealtimeSecurityModule.forRoot({ jwt: { secret } })` or `forRootAsync({ useFactory, inject })`,
 * then `app.useWebSocketAdapter(new SecureIoAdapter(app))`.
 */
@Module({
  providers: [
    resolvedOptionsProvider,
    authenticatorProvider,
    connectionLeaseStoreProvider,
    moderationStoreProvider,
    SecurityEventsService,
    ConnectionLifecycle,
    HandshakePipeline,
    MessagePipeline,
    NamespaceSecurity,
  ],
  exports: [
    RealtimeAuthenticator,
    ConnectionLeaseStore,
    ModerationStore,
    SecurityEventsService,
    ConnectionLifecycle,
    NamespaceSecurity,
  ],
})
export class RealtimeSecurityModule extends RealtimeSecurityConfigurableModule {}
