import type { Provider } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { RESOLVED_OPTIONS } from '../constants.js';
import { JwtAuthenticator } from '../auth/jwt.authenticator.js';
import { InMemoryConnectionLeaseStore } from '../connections/in-memory-connection-lease.store.js';
import { RealtimeAuthenticator } from '../interfaces/authenticator.interface.js';
import { ConnectionLeaseStore } from '../interfaces/connection-lease-store.interface.js';
import { ModerationStore } from '../interfaces/moderation-store.interface.js';
import type { RealtimeSecurityOptions } from '../interfaces/realtime-security-options.interface.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { InMemoryModerationStore } from '../moderation/in-memory-moderation.store.js';
import { REALTIME_SECURITY_OPTIONS } from './realtime-security.module-definition.js';
import { resolveOptions } from './options.validator.js';

/** Options are validated once here; a bad one fails start-up with a message naming the fix. */
export const resolvedOptionsProvider: Provider = {
  provide: RESOLVED_OPTIONS,
  useFactory: (options: RealtimeSecurityOptions) => resolveOptions(options),
  inject: [REALTIME_SECURITY_OPTIONS],
};

/** The custom authenticator when one is configured (a class is built through Nest DI), else JWT. */
export const authenticatorProvider: Provider = {
  provide: RealtimeAuthenticator,
  useFactory: async (options: ResolvedRealtimeSecurityOptions, moduleRef: ModuleRef): Promise<RealtimeAuthenticator> => {
    const custom = options.authenticator;
    if (custom === null) return new JwtAuthenticator(options.jwt as NonNullable<ResolvedRealtimeSecurityOptions['jwt']>);
    return typeof custom === 'function' ? moduleRef.create(custom) : custom;
  },
  inject: [RESOLVED_OPTIONS, ModuleRef],
};

export const connectionLeaseStoreProvider: Provider = {
  provide: ConnectionLeaseStore,
  useClass: InMemoryConnectionLeaseStore,
};

export const moderationStoreProvider: Provider = {
  provide: ModerationStore,
  useClass: InMemoryModerationStore,
};
