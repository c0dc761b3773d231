import { Logger } from '@nestjs/common';
import { createLocalJWKSet, errors, type JWTVerifyGetKey } from 'jose';
import type { ResolvedJwksOptions } from '../interfaces/resolved-options.interface.js';
import { ThrottledLog } from '../utils/throttled-log.js';
import { KeySetUnavailableError } from './key-set-unavailable.error.js';

/** Largest key set accepted, in bytes: real ones hold a few keys (a few KB). */
const MAX_KEY_SET_BYTES = 512 * 1024;
/** A background retry after failures waits at most this many cooldowns. */
const MAX_BACKOFF_COOLDOWNS = 32;

/** What `getKey` selects keys from: jose's local key set over one fetched snapshot. */
type LocalKeySet = ReturnType<typeof createLocalJWKSet>;

/** Counters of a key set, for tests and diagnostics. */
export interface JwksKeySetStats {
  /** Fetches (or loader calls) started. */
  readonly fetches: number;
  /** Of those, the ones that failed (timeout, HTTP error, malformed or empty set). */
  readonly failures: number;
  /** When the current set was fetched (epoch ms), or null when there is none. */
  readonly loadedAt: number | null;
}

/**
 * A JSON Web Key Set kept in memory and refreshed in the background, with `jose` doing every JOSE
 * part (key set shape, key selection by `kid`/`kty`/`alg`/`use`/`key_ops`, key import).
 * `jose`'s own remote set is not used because, once its cache is stale, it fetches on the
 * verifying call and fails it when the fetch fails, once per call while the issuer is down.
 * Here:
 *  - a token whose key is in the set never waits on the network: the set is refreshed on a timer;
 *  - a `kid` not in the set waits for the next fetch, which starts at once if the last one
 *    started at least `cooldownMs` ago, else when that cooldown ends: any number of unknown
 *    `kid`s cost one fetch per cooldown;
 *  - a failed fetch (timeout, HTTP error, a malformed or empty set) keeps the last good set;
 *  - with no set at all, `getKey` throws `KeySetUnavailableError` (the caller refuses), after
 *    waiting only for a fetch already under way or allowed by the cooldown.
 */
export class JwksKeySet {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly log = new ThrottledLog(this.logger);
  private local: LocalKeySet | null = null;
  /** The body of the current set, to keep its imported keys when a refresh returns the same set. */
  private localJson: string | null = null;
  private loadedAt: number | null = null;
  private lastAttemptAt = Number.NEGATIVE_INFINITY;
  private pending: Promise<boolean> | null = null;
  private scheduled: { promise: Promise<boolean>; timer: NodeJS.Timeout; resolve: (ok: boolean) => void } | null = null;
  private refreshTimer: NodeJS.Timeout | null = null;
  private consecutiveFailures = 0;
  private fetches = 0;
  private failures = 0;
  private started = false;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(private readonly options: ResolvedJwksOptions) {}

  /** Starts the first fetch and the refresh timer (idempotent; also done by the first `getKey`). */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    void this.fetchNow();
  }

  /** Stops the timers and aborts a fetch under way. */
  close(): void {
    this.closed = true;
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    this.refreshTimer = null;
    if (this.scheduled !== null) {
      clearTimeout(this.scheduled.timer);
      this.scheduled.resolve(false);
      this.scheduled = null;
    }
    this.abort.abort();
  }

  stats(): JwksKeySetStats {
    return { fetches: this.fetches, failures: this.failures, loadedAt: this.loadedAt };
  }

  /** For `jose`'s `jwtVerify`: the verification key of a token, chosen from the set. */
  readonly getKey: JWTVerifyGetKey = async (header, token) => {
    let local = this.local;
    if (local === null) {
      this.start();
      // No set yet: wait for the fetch under way, or start one if the cooldown allows; never queue.
      const attempt = this.pending ?? (this.coolingDown() ? null : this.fetchNow());
      if (attempt === null || !(await attempt) || this.local === null) throw new KeySetUnavailableError();
      local = this.local;
    }
    try {
      return await local(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
    }
    // A key published since the last fetch: the set may already have changed meanwhile.
    if (this.local !== local && this.local !== null) return this.local(header, token);
    await this.nextFetch();
    const next = this.local;
    if (next === local || next === null) throw new errors.JWKSNoMatchingKey();
    return next(header, token);
  };

  private coolingDown(): boolean {
    return Date.now() - this.lastAttemptAt < this.options.cooldownMs;
  }

  /** The fetch under way, or one now, or one when the cooldown ends: one shared by every caller. */
  private nextFetch(): Promise<boolean> {
    if (this.pending !== null) return this.pending;
    if (!this.coolingDown()) return this.fetchNow();
    if (this.scheduled !== null) return this.scheduled.promise;
    if (this.closed) return Promise.resolve(false);
    let resolve!: (ok: boolean) => void;
    const promise = new Promise<boolean>((r) => { resolve = r; });
    const timer = setTimeout(() => {
      this.scheduled = null;
      void this.nextFetch().then(resolve);
    }, Math.max(0, this.lastAttemptAt + this.options.cooldownMs - Date.now()));
    timer.unref();
    this.scheduled = { promise, timer, resolve };
    return promise;
  }

  /** Fetches the set now (sharing a fetch under way); true when a usable set was stored. */
  private fetchNow(): Promise<boolean> {
    if (this.pending !== null) return this.pending;
    if (this.closed) return Promise.resolve(false);
    this.lastAttemptAt = Date.now();
    this.fetches += 1;
    const attempt = this.load().then(
      (json) => {
        if (json !== this.localJson) {
          this.local = createLocalJWKSet(JSON.parse(json) as Parameters<typeof createLocalJWKSet>[0]);
          this.localJson = json;
        }
        this.loadedAt = Date.now();
        if (this.consecutiveFailures > 0) this.logger.log(`JWKS: key set from ${this.describeSource()} fetched again`);
        this.consecutiveFailures = 0;
        this.log.reset('jwks');
        return true;
      },
      (error: unknown) => {
        this.failures += 1;
        this.consecutiveFailures += 1;
        if (!this.closed) {
          const kept = this.loadedAt !== null
            ? `keeping the key set fetched ${Math.round((Date.now() - this.loadedAt) / 1000)} s ago`
            : 'no key set yet: handshakes are refused with SERVICE_UNAVAILABLE';
          this.log.error('jwks', `JWKS: fetching the key set from ${this.describeSource()} failed (${reason(error)}); ${kept}`);
        }
        return false;
      },
    ).finally(() => {
      this.pending = null;
      this.scheduleRefresh();
    });
    this.pending = attempt;
    return attempt;
  }

  /** The next background fetch: the interval after a success, a growing multiple of the cooldown after failures. */
  private scheduleRefresh(): void {
    if (this.closed) return;
    if (this.refreshTimer !== null) clearTimeout(this.refreshTimer);
    const { intervalMs, cooldownMs } = this.options;
    const delay = this.consecutiveFailures === 0
      ? intervalMs
      : Math.min(intervalMs, cooldownMs * Math.min(MAX_BACKOFF_COOLDOWNS, 2 ** (this.consecutiveFailures - 1)));
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.fetchNow();
    }, delay);
    this.refreshTimer.unref();
  }

  /** The set's JSON text, checked by `jose` (shape) and here (size, at least one key). */
  private async load(): Promise<string> {
    const { source, timeoutMs } = this.options;
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]);
    let json: string;
    if (source instanceof URL) {
      json = await fetchText(source, signal);
    } else {
      const value = await withSignal(Promise.resolve().then(source), signal);
      json = JSON.stringify(value) ?? 'null';
      if (json.length > MAX_KEY_SET_BYTES) throw new Error(`the key set is larger than ${MAX_KEY_SET_BYTES} bytes`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch {
      throw new Error('the response is not JSON');
    }
    // jose checks the shape (a `keys` array of objects); an empty set would refuse every token.
    createLocalJWKSet(parsed as Parameters<typeof createLocalJWKSet>[0]);
    if ((parsed as { keys: unknown[] }).keys.length === 0) throw new Error('the key set holds no key');
    return json;
  }

  /** Where the set comes from, for logs: scheme, host and path only (never credentials or a query). */
  private describeSource(): string {
    const { source } = this.options;
    return source instanceof URL ? `${source.protocol}//${source.host}${source.pathname}` : 'the jwks loader';
  }
}

async function fetchText(url: URL, signal: AbortSignal): Promise<string> {
  // No redirects: the set comes from the configured URL only.
  const response = await fetch(url, { signal, redirect: 'manual', headers: { accept: 'application/jwk-set+json, application/json' } });
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > MAX_KEY_SET_BYTES) {
    await response.body?.cancel().catch(() => undefined);
    throw new Error(`the key set is larger than ${MAX_KEY_SET_BYTES} bytes`);
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_KEY_SET_BYTES) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`the key set is larger than ${MAX_KEY_SET_BYTES} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** `promise`, or a rejection once `signal` aborts (a loader that never answers times out). */
function withSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => { signal.removeEventListener('abort', onAbort); resolve(value); },
      (error: unknown) => { signal.removeEventListener('abort', onAbort); reject(error as Error); },
    );
  });
}

/** A failure's reason for the log: its message, never a response body. */
function reason(error: unknown): string {
  if (error === null || typeof error !== 'object') return 'unknown error';
  // An aborted fetch rejects with a DOMException, which is no `Error` on every Node version.
  const { name, message, cause } = error as { name?: unknown; message?: unknown; cause?: unknown };
  if (name === 'TimeoutError' || name === 'AbortError') return 'timed out';
  const code = cause !== null && typeof cause === 'object' ? (cause as { code?: unknown }).code : undefined;
  const text = typeof message === 'string' ? message.slice(0, 200) : 'unknown error';
  return typeof code === 'string' ? `${text}: ${code}` : text;
}
