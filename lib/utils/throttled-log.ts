import { Logger } from '@nestjs/common';

/** The logger methods `ThrottledLog` writes with (a Nest `Logger` satisfies it). */
export interface ThrottledLogTarget {
  error(message: string): void;
  warn(message: string): void;
  /** Optional: `debug` lines are dropped by a target without it. */
  debug?(message: string): void;
}

/** Default quiet interval between two lines of the same key. */
export const THROTTLED_LOG_INTERVAL_MS = 10_000;

/** Keys remembered at once; the oldest is forgotten beyond this (keys are call sites, not client input). */
const MAX_KEYS = 256;

interface KeyState {
  /** Start of the key's current interval. */
  since: number;
  /** Lines written in it. */
  written: number;
  suppressed: number;
}

/**
 * Logs a failure that can repeat once per handshake or message (a store or authenticator down)
 * without flooding: at most `burst` lines per key per interval (one by default); the next line
 * written for that key says how many were suppressed in between. Internal: not exported from
 * the package.
 */
export class ThrottledLog {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly logger: ThrottledLogTarget = new Logger('RealtimeSecurity'),
    private readonly intervalMs: number = THROTTLED_LOG_INTERVAL_MS,
    private readonly now: () => number = Date.now,
    private readonly burst: number = 1,
  ) {}

  /** Logs `message` as an error unless `key` logged within the interval. True when written. */
  error(key: string, message: string): boolean {
    return this.write('error', key, message);
  }

  /** Logs `message` as a warning unless `key` logged within the interval. True when written. */
  warn(key: string, message: string): boolean {
    return this.write('warn', key, message);
  }

  /** Logs `message` at debug level unless `key` used its lines of the interval. True when written. */
  debug(key: string, message: string): boolean {
    return this.write('debug', key, message);
  }

  /** Forgets `key` (its next line is written at once); true when it had logged. */
  reset(key: string): boolean {
    return this.keys.delete(key);
  }

  private write(level: 'error' | 'warn' | 'debug', key: string, message: string): boolean {
    const now = this.now();
    let state = this.keys.get(key);
    const inInterval = state !== undefined && now - state.since < this.intervalMs;
    if (state !== undefined && inInterval && state.written >= this.burst) {
      state.suppressed += 1;
      return false;
    }
    const more = state !== undefined && state.suppressed > 0 ? ` (${state.suppressed} more since the last line)` : '';
    if (state === undefined || !inInterval) state = { since: now, written: 0, suppressed: 0 };
    state.written += 1;
    state.suppressed = 0;
    this.keys.delete(key);
    this.keys.set(key, state);
    if (this.keys.size > MAX_KEYS) this.keys.delete(this.keys.keys().next().value as string);
    this.logger[level]?.(`${message}${more}`);
    return true;
  }
}
