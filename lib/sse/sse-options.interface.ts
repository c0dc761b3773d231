/** Stream tickets: the one credential an `EventSource` without cookies can present in its URL. */
export interface SseTicketOptions {
  /**
   * Whether `SseTicketService` mints tickets and `@Sse()` routes accept `?<queryParameter>=`.
   * @default true
   */
  enabled?: boolean;
  /** How long a ticket is worth anything, in milliseconds (1000..60000); it works once within it. @default 10000 */
  ttlMs?: number;
  /** The query parameter carrying a ticket (letters, digits, `_-`, 1..32). @default 'ticket' */
  queryParameter?: string;
}

/** Server-Sent Events: every `@Sse()` route of the app is authenticated, authorized and counted. */
export interface SseOptions {
  /** A heartbeat comment (`: `) every this many milliseconds (1000..300000), so proxies keep the stream open and dead clients are found. @default 15000 */
  heartbeatMs?: number;
  /**
   * Bytes of events that may wait for a client that does not read before its stream is dropped
   * (and its slot released), for `@Sse()` routes that do not set their own `maxPendingDataLength`
   * (16 KiB..256 MiB). @default 1048576 (1 MiB)
   */
  maxBufferedBytes?: number;
  /**
   * Longest life of one stream, in milliseconds (0: no limit; else 1000..86400000). At the limit
   * the stream ends; an `EventSource` reconnects and is authenticated again. @default 0
   */
  maxLifetimeMs?: number;
  /**
   * A stream whose route sent no event for this long, in milliseconds, ends (0: never; else
   * 1000..86400000; heartbeats do not count; checked at each heartbeat). @default 0
   */
  idleTimeoutMs?: number;
  /** Stream tickets for clients that cannot send headers or cookies. @default see {@link SseTicketOptions} */
  tickets?: SseTicketOptions;
}

/** SSE options after validation. Internal. */
export interface ResolvedSseOptions {
  readonly heartbeatMs: number;
  readonly maxBufferedBytes: number;
  readonly maxLifetimeMs: number;
  readonly idleTimeoutMs: number;
  readonly tickets: {
    readonly enabled: boolean;
    readonly ttlMs: number;
    readonly queryParameter: string;
  };
}
