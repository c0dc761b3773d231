/** The servers under test. */
export const SCENARIOS = ['raw', 'bareNest', 'naive', 'secured', 'securedRedis'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The namespace every scenario serves the echo event on. */
export const NAMESPACE = '/chat';
/** The echo event (payload `{ channelId, text }`, ack with the payload). */
export const ECHO_EVENT = 'echo';
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

/** Open connections seen by the app (incremented on connection, decremented on disconnect). */
export const connectionCounter = { open: 0 };
