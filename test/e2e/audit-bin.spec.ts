import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AuditReport } from '../../lib/cli/index.js';
import { startInsecureServer, type InsecureServer } from '../fixtures/insecure-server.js';
import { startApp, type TestApp } from '../support/app.js';
import { pingGateway } from '../support/ping.gateway.js';
import { signToken } from '../support/tokens.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = resolve(ROOT, 'bin/nestjs-realtime-security.js');

/** dist/cli/main.js exists and is newer than every source file of lib/cli. */
function compiledIsFresh(): boolean {
  const compiled = resolve(ROOT, 'dist/cli/main.js');
  if (!existsSync(compiled)) return false;
  const built = statSync(compiled).mtimeMs;
  const sources = readdirSync(resolve(ROOT, 'lib/cli'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  return sources.every((file) => statSync(resolve(ROOT, 'lib/cli', file)).mtimeMs <= built);
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command asynchronously (the servers under audit live in this process). */
function run(command: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

const PingGateway = pingGateway('/chat');

describe('audit command, through the package bin (compiled)', () => {
  beforeAll(async () => {
    // Builds when dist/ is missing or older than the CLI's sources (CI has just run `npm run build`):
    // `npm run build` without its `rm -rf dist`, so nothing else reading dist/ sees it vanish.
    // Errors elsewhere in lib/ (work in progress) do not stop tsc emitting; errors in the CLI do fail.
    if (!compiledIsFresh()) {
      const build = await run(process.execPath, [resolve(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json']);
      expect(build.stdout.split('\n').filter((line) => line.includes('lib/cli/'))).toEqual([]);
    }
    expect(compiledIsFresh()).toBe(true);
  }, 120_000);

  describe('against the insecure fixture', () => {
    let server: InsecureServer;
    beforeAll(async () => { server = await startInsecureServer(); });
    afterAll(async () => { await server.close(); });

    it('prints a JSON report with the FAILs and exits 1; the token (from the environment) never appears', async () => {
      const token = signToken({ sub: 'auditor' });
      const result = await run(process.execPath, [BIN, 'audit', '--url', server.url, '--namespace', '/chat', '--max-connections', '3', '--settle', '200', '--json'],
        { REALTIME_AUDIT_TOKEN: token });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as AuditReport;
      expect(report.summary.fail).toBeGreaterThan(20);
      expect(report.results.find((r) => r.id === 'limits.connection-ceiling')?.status).toBe('FAIL');
      expect(report.results.find((r) => r.id === 'control.token')?.status).toBe('PASS');
      expect(result.stdout).not.toContain(token);
      expect(result.stdout).not.toContain(token.split('.')[2]);
    }, 60_000);
  });

  describe('against an app secured by the library', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp({
        gateways: [PingGateway],
        security: { credentials: { cookieName: 'rt_session' }, origins: { allowed: ['http://app.audit.test'] }, connections: { maxPerUser: 3 } },
      });
    });
    afterAll(async () => { await t.close(); });

    it('prints one PASS line per check and exits 0', async () => {
      const token = signToken({ sub: 'auditor' });
      const result = await run(process.execPath, [BIN, 'audit', '--url', t.url, '--namespace', '/chat', '--token', token, '--cookie-name', 'rt_session',
        '--allowed-origin', 'http://app.audit.test', '--max-connections', '3', '--flood-event', 'ping', '--settle', '200']);
      expect(result.stderr).toBe('');
      const lines = result.stdout.trim().split('\n');
      const checks = lines.slice(0, lines.indexOf(''));
      expect(checks.length).toBeGreaterThan(30);
      expect(checks.filter((line) => !line.startsWith('PASS '))).toEqual([]);
      expect(lines[lines.length - 1]).toMatch(/: \d+ PASS, 0 FAIL, 0 N\/A in \d+ ms/);
      expect(result.stdout).not.toContain(token.split('.')[2]);
      expect(result.code).toBe(0);
    }, 60_000);
  });
});
