/**
 * `@nestjs/throttler`'s metadata keys (each followed by the throttler name), read here so that
 * its `@Throttle()` and `@SkipThrottle()` work on gateway handlers. They are copied rather than
 * imported: that package is CommonJS and `require`s the ESM-only `@nestjs/common`, so loading it
 * at run time would tie this library to runtimes that support `require(esm)`.
 * `test/e2e/limits-throttler-compat.spec.ts` checks them against the installed package.
 */
export const THROTTLER_LIMIT = 'THROTTLER:LIMIT';
export const THROTTLER_TTL = 'THROTTLER:TTL';
export const THROTTLER_BLOCK_DURATION = 'THROTTLER:BLOCK_DURATION';
export const THROTTLER_SKIP = 'THROTTLER:SKIP';

/** The one throttler this library runs: `@Throttle({ default: { ... } })` addresses it. */
export const WS_THROTTLER_NAME = 'default';
