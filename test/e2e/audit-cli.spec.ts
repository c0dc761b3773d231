import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AUDIT_TOKEN_ENV, isLoopbackHost, parseAuditArguments, runAudit, runCli, type AuditOptions } from '../../lib/cli/index.js';
import { Redactor } from '../../lib/cli/redactor.js';
import { decodeJwt, forgeTokens } from '../../lib/cli/token-forgery.js';
import { signToken } from '../support/tokens.js';

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { output: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) }, out, err };
}

describe('audit command line', () => {
  it('--help documents every option and exits 0', async () => {
    const c = capture();
    expect(await runCli(['--help'], c.output, {})).toBe(0);
    for (const option of ['--url', '--path', '--namespace', '--allow-host', '--token', '--cookie-name', '--allowed-origin', '--max-connections',
      '--oversize-bytes', '--flood-count', '--flood-event', '--flood-payload', '--timeout', '--step-timeout', '--settle', '--json', AUDIT_TOKEN_ENV]) {
      expect(c.out.join('')).toContain(option);
    }
  });

  it.each([
    [['audit'], '--url is required'],
    [['audit', '--url', 'http://127.0.0.1:1', '--bogus'], 'bogus'],
    [['scan', '--url', 'http://127.0.0.1:1'], 'the only command is "audit"'],
    [['audit', '--url', 'ftp://127.0.0.1:1'], '--url: use http:// or https://'],
    [['audit', '--url', 'http://127.0.0.1:1', '--namespace', 'chat'], '--namespace'],
    [['audit', '--url', 'http://127.0.0.1:1', '--max-connections', '11'], '--max-connections: give a whole number from 1 to 10'],
    [['audit', '--url', 'http://127.0.0.1:1', '--flood-count', '100000'], '--flood-count'],
    [['audit', '--url', 'http://127.0.0.1:1', '--flood-payload', '{nope'], '--flood-payload: not valid JSON'],
    [['audit', '--url', 'http://127.0.0.1:1', '--allowed-origin', 'http://a.test/path'], '--allowed-origin'],
  ])('refuses %j with a message naming the option (exit 2)', async (argv, message) => {
    const c = capture();
    expect(await runCli(argv, c.output, {})).toBe(2);
    expect(c.err.join('')).toContain(message);
    expect(c.out).toEqual([]);
  });

  it('refuses a host that is not loopback unless --allow-host names it, before any request', async () => {
    const c = capture();
    expect(await runCli(['audit', '--url', 'http://203.0.113.7:3000'], c.output, {})).toBe(2);
    expect(c.err.join('')).toContain('add --allow-host 203.0.113.7');
    expect(() => parseAuditArguments(['audit', '--url', 'http://203.0.113.7:3000', '--allow-host', '203.0.113.8'])).toThrow('not a loopback host');
    expect(parseAuditArguments(['audit', '--url', 'http://203.0.113.7:3000', '--allow-host', '203.0.113.7']).kind).toBe('audit');
    // The function refuses it too, whatever options it is handed.
    const options = { ...(parseAuditArguments(['audit', '--url', 'http://127.0.0.1:1']) as { options: AuditOptions }).options, url: 'http://203.0.113.7:3000' };
    await expect(runAudit(options)).rejects.toThrow('not a loopback host');
  });

  it.each([
    ['localhost', true], ['app.localhost', true], ['127.0.0.1', true], ['127.1.2.3', true], ['[::1]', true], ['::ffff:127.0.0.1', true], ['[::ffff:7f00:1]', true], ['0:0:0:0:0:0:0:1', true],
    ['128.0.0.1', false], ['localhost.attacker.example', false], ['127.0.0.1.nip.io', false], ['10.0.0.1', false], ['::2', false], ['::ffff:a00:1', false], ['example.com', false],
  ])('loopback host %s: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it('reads the token from the environment when --token is absent', () => {
    const command = parseAuditArguments(['audit', '--url', 'http://127.0.0.1:1'], { [AUDIT_TOKEN_ENV]: 'a.b.c' });
    expect(command.kind === 'audit' && command.options.token).toBe('a.b.c');
  });

  it('exits 2 when the server cannot be reached', async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const c = capture();
    expect(await runCli(['audit', '--url', `http://127.0.0.1:${port}`], c.output, {})).toBe(2);
    expect(c.err.join('')).toContain('cannot reach');
  });

  it('redacts the token, its segments, its forged variants, any JWT-shaped text and engine sids from evidence', () => {
    const token = signToken({ sub: 'auditor' });
    const jwt = decodeJwt(token);
    expect(jwt).not.toBeNull();
    const forged = forgeTokens(jwt!);
    const redactor = new Redactor();
    redactor.add(token);
    for (const variant of Object.values(forged)) redactor.add(variant);
    const [, claims, signature] = token.split('.') as [string, string, string];
    const echoed = `bad token ${token}; sig=${signature}; claims ${claims}; none ${forged.algNone}; other a1b2c3d4e5.f6g7h8i9j0.k1; {"sid":"Xy12-ab_CDefGH"}`;
    const clean = redactor.clean(echoed, 1000);
    for (const secret of [token, signature, claims, forged.algNone, 'a1b2c3d4e5.f6g7h8i9j0', 'Xy12-ab_CDefGH']) expect(clean).not.toContain(secret);
    expect(clean).toContain('bad token <redacted>');
  });

  it('forges variants that keep the claims but can never verify', () => {
    const token = signToken({ sub: 'auditor', perms: ['channel:read'] });
    const forged = forgeTokens(decodeJwt(token)!, 1_000_000);
    expect(decodeJwt(forged.algNone)?.header.alg).toBe('none');
    expect(forged.algNone.endsWith('.')).toBe(true);
    expect(decodeJwt(forged.tamperedClaims)?.claims).toMatchObject({ sub: 'auditor-audit-impersonated', perms: ['*'] });
    expect(forged.tamperedClaims.split('.')[2]).toBe(token.split('.')[2]);
    expect(decodeJwt(forged.expired)?.claims).toMatchObject({ sub: 'auditor', exp: 1_000_000 - 3600 });
    expect(forged.badSignature.split('.').slice(0, 2)).toEqual(token.split('.').slice(0, 2));
    expect(forged.badSignature).not.toBe(token);
    expect(token.startsWith(forged.truncated)).toBe(true);
    expect(decodeJwt('not-a-jwt')).toBeNull();
  });
});
