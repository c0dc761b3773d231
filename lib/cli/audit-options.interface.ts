/** Socket.IO transports the audit probes. */
export type AuditTransport = 'polling' | 'websocket';

export const AUDIT_TRANSPORTS: readonly AuditTransport[] = ['polling', 'websocket'];

/** Everything `runAudit` needs, validated and defaulted (see `parseAuditArguments`). */
export interface AuditOptions {
  /** Base URL of the server, `http(s)://host:port` (origin only). */
  readonly url: string;
  /** Socket.IO path. @default '/socket.io/' */
  readonly path: string;
  /** Namespaces the server declares (each starts with `/`). @default ['/'] */
  readonly namespaces: readonly string[];
  /** A valid token of a test user; unset: the checks that need one are N/A. @default undefined */
  readonly token?: string;
  /** Name of the session cookie the server accepts; unset: the Origin matrix is N/A. @default undefined */
  readonly cookieName?: string;
  /** An Origin the server allows, used as the control of the Origin matrix. @default the origin of `url` */
  readonly allowedOrigin: string;
  /** The per-user ceiling the server should enforce (1..10); unset: probe up to 11. @default undefined */
  readonly maxConnections?: number;
  /** Size in bytes of the oversize message. @default 131072 */
  readonly oversizeBytes: number;
  /** Messages sent by the flood check. @default 300 */
  readonly floodCount: number;
  /** Event the flood check sends. @default 'audit:flood' */
  readonly floodEvent: string;
  /** Payload of each flood message. @default {} */
  readonly floodPayload: unknown;
  /** Global time budget in ms. @default 60000 */
  readonly timeBudgetMs: number;
  /** Longest wait for one answer in ms. @default 3000 */
  readonly stepTimeoutMs: number;
  /** Quiet window in ms after which "no answer" counts as "nothing happened". @default 400 */
  readonly settleMs: number;
  /** Path (on `url`) of a Server-Sent Events route to check too, e.g. `/chat/notifications`; unset: no SSE checks. @default undefined */
  readonly sseUrl?: string;
  /** Hosts other than loopback the audit may probe (exact names). @default [] */
  readonly allowedHosts: readonly string[];
}

/** Upper bound on connections one audit may open (every check together). */
export const MAX_AUDIT_CONNECTIONS = 200;
