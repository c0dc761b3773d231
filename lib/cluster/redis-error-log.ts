import { Logger } from '@nestjs/common';

const QUIET_MS = 10_000;

/**
 * Logs Redis trouble without flooding: the first error of an outage at once, then at most one
 * line per 10 s per role with the number of errors in between, and one line on recovery.
 * Messages are reduced to the error's class and text with any `user:password@` removed; a URL,
 * password or payload is never logged.
 */
export class RedisErrorLog {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly roles = new Map<string, { last: number; suppressed: number; down: boolean }>();

  error(role: string, error: unknown): void {
    const now = Date.now();
    const state = this.roles.get(role) ?? { last: 0, suppressed: 0, down: false };
    this.roles.set(role, state);
    state.down = true;
    if (now - state.last < QUIET_MS) {
      state.suppressed += 1;
      return;
    }
    const more = state.suppressed > 0 ? ` (${state.suppressed} more since the last line)` : '';
    state.last = now;
    state.suppressed = 0;
    this.logger.error(`redis ${role}: ${redact(error)}${more}`);
  }

  recovered(role: string): void {
    const state = this.roles.get(role);
    if (state === undefined || !state.down) return;
    state.down = false;
    state.last = 0;
    state.suppressed = 0;
    this.logger.log(`redis ${role}: connection is back`);
  }
}

/** An error's class and message, without credentials. */
export function redact(error: unknown): string {
  const text = isErrorLike(error) ? `${error.name}: ${error.message}` : 'non-error thrown';
  return text.replace(/\/\/[^/@\s]*@/g, '//***@').slice(0, 300);
}

/** `instanceof Error` fails for errors made in another realm (a VM context): check the shape instead. */
export function isErrorLike(value: unknown): value is { name: string; message: string } {
  return typeof value === 'object' && value !== null
    && typeof (value as { message?: unknown }).message === 'string' && typeof (value as { name?: unknown }).name === 'string';
}
