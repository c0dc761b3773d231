import { SetMetadata, applyDecorators } from '@nestjs/common';
import { THROTTLER_BLOCK_DURATION, THROTTLER_LIMIT, THROTTLER_SKIP, THROTTLER_TTL, WS_THROTTLER_NAME } from './throttler-metadata.constants.js';

/** A per-event message limit. */
export interface WsThrottleOptions {
  /** Messages one user may send to these handlers per `ttl`. */
  readonly limit: number;
  /** The window, in ms. */
  readonly ttl: number;
  /** Once over the limit, refuse for this many ms instead of until the window frees a slot. @default 0 */
  readonly blockDuration?: number;
}

/**
 * Gives a handler (or every handler of a gateway) its own per-user counter with these numbers,
 * instead of the shared `rateLimit.messageLimit` budget. The same as `@nestjs/throttler`'s
 * `@Throttle({ default: { limit, ttl, blockDuration } })`, which works too.
 */
export function WsThrottle(options: WsThrottleOptions): MethodDecorator & ClassDecorator {
  return applyDecorators(
    SetMetadata(THROTTLER_LIMIT + WS_THROTTLER_NAME, options.limit),
    SetMetadata(THROTTLER_TTL + WS_THROTTLER_NAME, options.ttl),
    ...(options.blockDuration !== undefined ? [SetMetadata(THROTTLER_BLOCK_DURATION + WS_THROTTLER_NAME, options.blockDuration)] : []),
  );
}

/**
 * Exempts a handler (or a gateway) from message rate limiting; `WsSkipThrottle(false)` on a
 * method re-enables it under a skipped gateway. The same as `@nestjs/throttler`'s `@SkipThrottle()`.
 */
export function WsSkipThrottle(skip = true): MethodDecorator & ClassDecorator {
  return SetMetadata(THROTTLER_SKIP + WS_THROTTLER_NAME, skip);
}
