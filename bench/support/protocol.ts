/** The servers under test. */
export const SCENARIOS = ['raw', 'bareNest', 'bareNestNoopGuardPipe', 'naive', 'tuned', 'secured', 'securedRedis'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];
/**
 * Hosted by the in-process dispatch bench only: `secured` with a no-op pipe in place of
 * `WsValidationPipe`, which splits the library's per-message cost into validation and the rest.
 */
export const DISPATCH_ONLY_SCENARIOS = ['securedNoValidation'] as const;
export type DispatchOnlyScenario = (typeof DISPATCH_ONLY_SCENARIOS)[number];

/** The namespace every scenario serves the echo event on. */
export const NAMESPACE = '/chat';
/** The echo event (payload `{ channelId, text }`, ack with the payload). */
export const ECHO_EVENT = 'echo';
/** The echo payload every scenario gets. */
export const ECHO_PAYLOAD = { channelId: 'general', text: 'hello, this is a chat message of ordinary length: about one line of text.' } as const;
/** HMAC key of the bench tokens (shared by the load generator and the servers). */
export const BENCH_SECRET = 'bench-secret-that-is-long-enough-for-hs256-0123456789abcdef';

/** `process.cpuUsage()` and a monotonic clock, read in one go by a server. */
export interface CpuSnapshot {
  readonly user: number;
  readonly system: number;
  readonly atMs: number;
}

/** `process.memoryUsage()` after GC, plus the connections the app holds. */
export interface MemorySnapshot {
  readonly heapUsed: number;
  readonly rss: number;
  readonly connections: number;
}

/** What a server child says once it listens. */
export interface ServerReady {
  readonly port: number;
}

/**
 * Open connections seen by the app (incremented on connection, decremented on disconnect), and the
 * server-side socket of the latest connection (the in-process dispatch bench drives it directly).
 */
export const connectionCounter: { open: number; last: object | undefined } = { open: 0, last: undefined };

/** A gateway's `handleConnection`: counts the connection and keeps its server-side socket. */
export function countConnection(client: object): void {
  connectionCounter.open++;
  connectionCounter.last = client;
}
