import { exitCodeOf, MAX_AUDIT_CONNECTIONS, parseAuditArguments, runAudit, type AuditOptions, type AuditReport, type AuditStatus } from '../../lib/cli/index.js';
import { startInsecureServer, type InsecureServer } from '../fixtures/insecure-server.js';
import { startApp, type TestApp } from '../support/app.js';
import { pingGateway } from '../support/ping.gateway.js';
import { signToken } from '../support/tokens.js';

/** The audit's checks as run against a library app; each must show up in a report. */
const EVERY_CHECK = [
  'control.token', 'auth.no-credentials', 'auth.empty-token', 'auth.query-token',
  'auth.forged.alg-none', 'auth.forged.bad-signature', 'auth.forged.tampered-claims', 'auth.forged.truncated', 'auth.forged.expired',
  'origin.allowed', 'origin.foreign', 'origin.null', 'origin.suffix-trick', 'origin.prefix-trick',
  'protocol.reserved-events', 'limits.oversize', 'presence.client-forged', 'limits.connection-ceiling', 'limits.slot-release',
  'limits.flood', 'liveness.after-audit',
];

const ALLOWED_ORIGIN = 'http://app.audit.test';

const PingGateway = pingGateway('/chat');

function auditOptions(url: string, token: string, extra: string[] = []): AuditOptions {
  const command = parseAuditArguments([
    'audit', '--url', url, '--namespace', '/chat', '--token', token, '--cookie-name', 'rt_session',
    '--allowed-origin', ALLOWED_ORIGIN, '--max-connections', '3', '--flood-event', 'ping', '--settle', '200', '--step-timeout', '2000', ...extra,
  ]);
  if (command.kind !== 'audit') throw new Error('expected an audit command');
  return command.options;
}

/** `id` → the statuses it got (one per target). */
function statuses(report: AuditReport): Map<string, AuditStatus[]> {
  const map = new Map<string, AuditStatus[]>();
  for (const r of report.results) map.set(r.id, [...(map.get(r.id) ?? []), r.status]);
  return map;
}

describe('audit command, in process', () => {
  describe('against an app secured by the library', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({
        gateways: [PingGateway],
        security: {
          credentials: { cookieName: 'rt_session' },
          origins: { allowed: [ALLOWED_ORIGIN] },
          connections: { maxPerUser: 3 },
          presence: { broadcast: { namespaces: ['/chat'] } },
        },
      });
    });
    afterAll(async () => { await t.close(); });

    it('reports every check PASS, names the seed checks, never prints the token, and exits 0', async () => {
      const token = signToken({ sub: 'auditor', perms: ['presence:read'] });
      const report = await runAudit(auditOptions(t.url, token));
      expect(report.results.filter((r) => r.status !== 'PASS')).toEqual([]);
      expect([...statuses(report).keys()].sort()).toEqual([...EVERY_CHECK].sort());
      // every given namespace, '/', an undeclared one, over both transports
      expect(report.results.filter((r) => r.id === 'auth.no-credentials')).toHaveLength(6);
      expect(report.results.find((r) => r.id === 'limits.connection-ceiling')?.evidence).toContain('connection 4 refused with connect_error CONNECTION_LIMIT');
      expect(report.results.find((r) => r.id === 'limits.flood')?.evidence).toMatch(/RATE_LIMITED|closed the socket/);
      expect(new Set(report.results.flatMap((r) => (r.seed !== undefined ? [r.seed] : [])))).toEqual(new Set([
        'community-realtime.connection-management.websocket-auth-required',
        'community-realtime.connection-management.per-user-connection-limits',
        'community-realtime.presence.server-computed-presence',
      ]));
      const text = JSON.stringify(report);
      for (const secret of [token, token.split('.')[2] as string]) expect(text).not.toContain(secret);
      expect(report.complete).toBe(true);
      expect(report.connectionsOpened).toBeLessThanOrEqual(MAX_AUDIT_CONNECTIONS);
      expect(exitCodeOf(report)).toBe(0);
    });
  });

  describe('against the deliberately insecure fixture', () => {
    let server: InsecureServer;
    beforeAll(async () => { server = await startInsecureServer(); });
    afterAll(async () => { await server.close(); });

    it('reports each hole as FAIL (and the controls as PASS) and exits 1', async () => {
      const token = signToken({ sub: 'auditor' });
      const report = await runAudit(auditOptions(server.url, token, ['--allowed-origin', server.url]));
      const expected: Record<string, AuditStatus> = {
        'control.token': 'PASS',
        'auth.no-credentials': 'FAIL',
        'auth.empty-token': 'FAIL',
        'auth.query-token': 'FAIL',
        'auth.forged.alg-none': 'FAIL',
        'auth.forged.bad-signature': 'FAIL',
        'auth.forged.tampered-claims': 'FAIL',
        'auth.forged.truncated': 'FAIL',
        'auth.forged.expired': 'FAIL',
        'origin.allowed': 'PASS',
        'origin.foreign': 'FAIL',
        'origin.null': 'FAIL',
        'origin.suffix-trick': 'FAIL',
        'origin.prefix-trick': 'FAIL',
        'protocol.reserved-events': 'FAIL',
        'limits.oversize': 'FAIL',
        'presence.client-forged': 'FAIL',
        'limits.connection-ceiling': 'FAIL',
        'limits.slot-release': 'PASS',
        'limits.flood': 'FAIL',
        'liveness.after-audit': 'PASS',
      };
      const got = statuses(report);
      for (const [id, status] of Object.entries(expected)) {
        expect({ id, statuses: [...new Set(got.get(id))] }).toEqual({ id, statuses: [status] });
      }
      const byId = (id: string) => report.results.find((r) => r.id === id)?.evidence ?? '';
      expect(byId('auth.no-credentials')).toBe('connected without any credential');
      expect(report.results.filter((r) => r.id === 'auth.no-credentials' && r.target.includes('undeclared'))).toHaveLength(2);
      expect(byId('limits.connection-ceiling')).toContain('4 connections of one user accepted');
      expect(byId('protocol.reserved-events')).toContain('"error"');
      expect(byId('presence.client-forged')).toContain('announcing the user offline');
      expect(byId('limits.flood')).toContain('none rate-limited');
      const text = JSON.stringify(report);
      for (const secret of [token, token.split('.')[2] as string]) expect(text).not.toContain(secret);
      expect(exitCodeOf(report)).toBe(1);
    });

    it('stops at its time budget: what did not run is N/A, the report is incomplete, the exit code 2', async () => {
      const options = { ...auditOptions(server.url, signToken({ sub: 'auditor' })), timeBudgetMs: 1 };
      const report = await runAudit(options);
      expect(report.complete).toBe(false);
      expect(report.summary.pass + report.summary.fail).toBe(0);
      expect(report.results.map((r) => r.evidence)).toContain('not run to the end: time budget spent');
      expect(exitCodeOf(report)).toBe(2);
    });
  });
});
