/** The verdict of one check. `N/A`: the check could not apply or could not run (the evidence says why). */
export type AuditStatus = 'PASS' | 'FAIL' | 'N/A';

/** Seed checks (community real-time checklist) a result relates to. */
export const AuditSeed = {
  WEBSOCKET_AUTH_REQUIRED: 'community-realtime.connection-management.websocket-auth-required',
  PER_USER_CONNECTION_LIMITS: 'community-realtime.connection-management.per-user-connection-limits',
  SERVER_COMPUTED_PRESENCE: 'community-realtime.presence.server-computed-presence',
} as const;

export type AuditSeed = (typeof AuditSeed)[keyof typeof AuditSeed];

/** One line of the report. */
export interface AuditCheckResult {
  /** Stable id of the check, such as `auth.no-credentials`. */
  readonly id: string;
  /** What was probed: a namespace, a transport, a variant (`/chat websocket`). */
  readonly target: string;
  readonly status: AuditStatus;
  /** What was observed; never a token, cookie or engine session id. */
  readonly evidence: string;
  /** The seed check this result relates to, where one does. */
  readonly seed?: AuditSeed;
}

/** What `runAudit` returns and `--json` prints. */
export interface AuditReport {
  readonly tool: 'nestjs-realtime-security audit';
  /** Base URL of the audited server (no credentials). */
  readonly url: string;
  readonly namespaces: readonly string[];
  readonly startedAt: string;
  readonly durationMs: number;
  /** False when the time or request budget ran out before every check ran. */
  readonly complete: boolean;
  readonly connectionsOpened: number;
  readonly messagesSent: number;
  readonly summary: { readonly pass: number; readonly fail: number; readonly notApplicable: number };
  readonly results: readonly AuditCheckResult[];
}
