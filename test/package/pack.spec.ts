/**
 * The package as a user gets it. One `npm run build` + `npm pack` (see package-under-test.ts), then:
 * the tarball's contents and package.json (entry points, engines, dependency declarations), and
 * the consumer matrix: the tarball installed, as a user installs it, into fresh projects of each
 * module system and Nest major, compiled with skipLibCheck off, started on port 0 and used through
 * a real socket.io-client. One `npm install` per Nest major (a plain
 * `npm i <tarball> @nestjs/... socket.io-client`, never a pinned socket.io; npm's one cache,
 * `--prefer-offline`); each cell is a project (its own package.json and tsconfig.json) in a folder
 * of that install, so Node and TypeScript resolve the packages from it exactly as from a project's
 * own node_modules. The apps' sources are test/package/apps/{esm,cjs}/main.ts, which the README
 * shows as its quick starts (checked below). Run with `npm run test:package` (CI does).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import type { AuditReport } from '../../lib/cli/index.js';
import { closeAllClients, connect, connected, TRANSPORTS } from '../support/clients.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';
import {
  installedVersion, isolatedScratchDir, mustRun, NAME, packTarball, readJson, REPO_MODULES, ROOT, run, type PackageJson,
} from './package-under-test.js';

type Version = [number, number, number];
const parseVersion = (text: string): Version => {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!match) throw new Error(`not a version: ${text}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
};
const compare = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/**
 * Whether `version` satisfies a caret (`^1.2.3`) or tilde (`~1.2.3`) range, or an `||` of them,
 * the only forms this package.json uses (anything else fails the test, so a new form gets a look).
 */
function satisfies(version: string, range: string): boolean {
  if (range.includes('||')) return range.split('||').some((part) => satisfies(version, part.trim()));
  const match = /^([~^])(\d+\.\d+\.\d+)$/.exec(range);
  if (!match) throw new Error(`unexpected range form: ${range}`);
  const v = parseVersion(version);
  const min = parseVersion(match[2]);
  if (compare(v, min) < 0) return false;
  if (match[1] === '~' || min[0] === 0) return v[0] === min[0] && v[1] === min[1];
  return v[0] === min[0];
}

/** `@scope/name/sub` → `@scope/name`, `name/sub` → `name`. */
const packageOf = (specifier: string): string => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((file) => join(dir, file));
}

const APPS = join(ROOT, 'test/package/apps');
const TSC = join(REPO_MODULES, 'typescript/bin/tsc');

/** Public runtime names the README, the sample and the brief promise. */
const PUBLIC_VALUES = [
  'RealtimeSecurityModule', 'InvalidRealtimeSecurityOptionsError', 'SecureIoAdapter',
  'WsPrincipal', 'WsAuthorize', 'WsPublic', 'WsThrottle', 'WsSkipThrottle',
  'WsValidationPipe', 'WsSecurityExceptionFilter', 'WsAuthorizationGuard', 'WsThrottlerGuard',
  'WsSecurityException', 'SecurityErrorCode',
  'PresenceService', 'ModerationService', 'TenantRooms', 'SecurityEventsService', 'SecurityInventoryService',
  'RealtimeAuthenticator', 'PermissionResolver', 'ConnectionLeaseStore', 'PresenceStore', 'ModerationStore',
  'ModerationBus', 'PresenceBus', 'WsThrottlerStorage',
  'InMemoryConnectionLeaseStore', 'InMemoryPresenceStore', 'InProcessPresenceBus', 'InMemoryModerationStore',
  'InProcessModerationBus', 'InMemoryThrottlerStorage', 'JwtAuthenticator', 'ClaimsPermissionResolver',
  'userKey', 'hasPermission', 'parseRequiredPermission', 'normalizeOrigin', 'InvalidPresenceQueryError',
  'RoomPresenceBus', 'InProcessRoomPresenceBus', 'isRoomPresenceStore',
  'SecurityMetrics', 'METER_NAME', 'METRICS_OTHER_VALUE',
  'SseAuthorize', 'SsePublic', 'SsePrincipal', 'SseRefusedException', 'SseTicketService', 'SseTopics', 'SseStreamService', 'ssePrincipalOf',
];

/** Internals that must not leak from the root entry point. */
const INTERNAL_VALUES = [
  'ConnectionLifecycle', 'ConnectionSession', 'sessionOf', 'HandshakePipeline', 'MessagePipeline', 'SecureServer',
  'NamespaceSecurity', 'RESOLVED_OPTIONS', 'REALTIME_SECURITY_OPTIONS', 'OriginPolicy', 'HandshakeRateLimiter',
  'UserMessageBudget', 'ClusterNodeService', 'RedisConnectionLeaseStore', 'RedisPresenceStore', 'RedisThrottlerStorage',
  'formatInventory', 'HandshakeRefusedError', 'describe', 'checkResourceId', 'grantCovers', 'TENANT_ROOM_PREFIX',
  'RoomPresenceTracker', 'RoomPresenceDiffService', 'RedisRoomPresenceBus',
  'SseStreamGuard', 'SseStreamInterceptor', 'SSE_STREAM_INTERCEPTOR', 'SseConnection', 'SSE_ROUTES', 'discoverSseRoutes', 'resolveSseOptions',
];

interface Cell {
  /** Folder name inside the install. */
  id: string;
  title: string;
  /** Which quick start (test/package/apps/<app>) it runs: its main.ts, package.json and tsconfig.json. */
  app: 'esm' | 'cjs';
  /** tsconfig `module` (the quick start's own unless set). */
  module?: 'nodenext';
  /** What tsc must emit. */
  emits: 'esm' | 'cjs';
  /** Also runs the package's `audit` bin and `require('nestjs-realtime-security/audit')` from this project. */
  audit?: boolean;
}

interface Install {
  major: 11 | 12;
  cells: Cell[];
}

const MATRIX: Install[] = [
  {
    major: 12,
    cells: [
      { id: 'esm', title: 'ESM app ("type": "module", module: nodenext)', app: 'esm', emits: 'esm' },
      { id: 'cjs', title: 'CommonJS app (module: commonjs)', app: 'cjs', emits: 'cjs', audit: true },
      { id: 'cjs-nodenext', title: 'CommonJS app (module: nodenext, no "type": "module")', app: 'cjs', module: 'nodenext', emits: 'cjs' },
    ],
  },
  { major: 11, cells: [{ id: 'cjs', title: 'CommonJS app (module: commonjs)', app: 'cjs', emits: 'cjs' }] },
];

/** The README's install line, at one Nest major; socket.io comes with @nestjs/platform-socket.io. */
const installArgs = (tarball: string, major: number): string[] => [
  'install', '--prefer-offline', '--no-audit', '--no-fund', tarball,
  ...['common', 'core', 'platform-express', 'websockets', 'platform-socket.io'].map((name) => `@nestjs/${name}@^${major}`),
  'reflect-metadata', 'rxjs', 'class-validator', 'socket.io-client', '@types/node@^20',
];

/** Starts `node dist/main.js` in `dir` with PORT=0; resolves with the port the app listens on. */
function startApp(dir: string): Promise<{ child: ChildProcess; port: number; output: () => string }> {
  const child = spawn(process.execPath, ['--require', join(APPS, 'report-port.cjs'), 'dist/main.js'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', JWT_SECRET: TEST_SECRET, PORT: '0', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`the app in ${dir} did not listen within 60 s:\n${output}`)), 60_000);
    const onExit = (code: number | null) => { clearTimeout(timer); fail(new Error(`the app in ${dir} exited (${code}) before listening:\n${output}`)); };
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const ready = /^READY (\d+)$/m.exec(output);
      if (ready) {
        clearTimeout(timer);
        child.off('exit', onExit);
        done({ child, port: Number(ready[1]), output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('exit', onExit);
  });
}

async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}

describe('the README quick starts', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const shown = new Map<string, string>();
  for (const match of readme.matchAll(/<!-- (test\/package\/apps\/[\w./-]+) -->\s*\n```\w*\n([\s\S]*?)```/g)) shown.set(match[1], match[2]);

  it.each(['test/package/apps/esm/main.ts', 'test/package/apps/cjs/main.ts'])('shows %s exactly as the matrix runs it', (file) => {
    expect(shown.get(file)).toBe(readFileSync(join(ROOT, file), 'utf8'));
  });

  it('shows the module settings the cells compile with', () => {
    const esm = readJson<{ compilerOptions: { module: string } }>(join(APPS, 'esm/tsconfig.json'));
    const cjs = readJson<{ compilerOptions: { module: string } }>(join(APPS, 'cjs/tsconfig.json'));
    expect([esm.compilerOptions.module, cjs.compilerOptions.module]).toEqual(['nodenext', 'commonjs']);
    expect(readJson<{ type?: string }>(join(APPS, 'esm/package.json')).type).toBe('module');
    expect(readJson<{ type?: string }>(join(APPS, 'cjs/package.json')).type).toBeUndefined();
    expect(readme).toContain('"type": "module"');
    expect(readme).toContain('"module": "nodenext"');
    expect(readme).toContain('"module": "commonjs"');
  });
});

describe('the packed package', () => {
  const work = isolatedScratchDir();
  const extracted = join(work, 'extracted');
  const pkg = readJson<PackageJson>(join(ROOT, 'package.json'));
  let tarball = '';
  let entries: string[] = [];

  beforeAll(async () => {
    tarball = await packTarball(work);
    entries = (await mustRun('tar', ['-tzf', tarball], work)).split('\n').filter(Boolean);
    mkdirSync(extracted);
    await mustRun('tar', ['-xzf', tarball, '-C', extracted, '--strip-components=1'], work);
  }, 300_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  describe('the tarball', () => {
    it('holds the compiled JavaScript, declarations, the bin and the README, and no sources', () => {
      const files = entries.map((entry) => entry.replace(/^package\//, ''));
      expect(files).toEqual(expect.arrayContaining([
        'package.json', 'README.md', 'bin/nestjs-realtime-security.js',
        'dist/index.js', 'dist/index.d.ts', 'dist/cli/index.js', 'dist/cli/index.d.ts', 'dist/cli/main.js',
      ]));
      // Every compiled module comes with its declarations.
      const js = files.filter((file) => file.startsWith('dist/') && file.endsWith('.js'));
      expect(js.length).toBeGreaterThan(50);
      expect(js.filter((file) => !files.includes(file.replace(/\.js$/, '.d.ts')))).toEqual([]);
      expect(files.filter((file) => /^(lib|test|sample|bench|docs|node_modules)\//.test(file))).toEqual([]);
      expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    });

    it('imports at run time only what package.json declares, and never @nestjs/throttler', () => {
      const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
      const builtins = new Set(builtinModules);
      const imported = new Set<string>();
      for (const file of filesUnder(join(extracted, 'dist')).filter((f) => f.endsWith('.js'))) {
        const source = readFileSync(file, 'utf8');
        for (const match of source.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)) {
          const specifier = match[1] ?? match[2] ?? match[3];
          if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier)) continue;
          imported.add(packageOf(specifier));
        }
      }
      expect(imported.size).toBeGreaterThan(5);
      expect([...imported].filter((name) => !declared.has(name))).toEqual([]);
      expect(imported.has('@nestjs/throttler')).toBe(false);
    });

    it('has no top-level await in the compiled library (require(esm) refuses a module that has one)', () => {
      const offenders: string[] = [];
      for (const file of filesUnder(join(extracted, 'dist')).filter((f) => f.endsWith('.js'))) {
        // Top level = no indentation; compiled output indents every nested statement.
        if (/^(?:export\s+)?(?:(?:const|let|var)\s[^=\n]+=\s*)?await\b|^for await\b/m.test(readFileSync(file, 'utf8'))) offenders.push(file);
      }
      expect(offenders).toEqual([]);
    });
  });

  describe('package.json', () => {
    it('exports "." and "./audit" with types first, then import and a default (what require(esm) uses in CommonJS apps)', () => {
      expect(pkg.type).toBe('module');
      expect(pkg.exports).toEqual({
        '.': { types: './dist/index.d.ts', import: './dist/index.js', default: './dist/index.js' },
        './audit': { types: './dist/cli/index.d.ts', import: './dist/cli/index.js', default: './dist/cli/index.js' },
        './package.json': './package.json',
      });
      for (const entry of ['.', './audit']) {
        expect(Object.keys((pkg.exports as Record<string, Record<string, string>>)[entry])).toEqual(['types', 'import', 'default']);
      }
    });

    it('asks for a Node with require(esm) on by default: 20.19+, 22.12+, 24+', () => {
      expect(pkg.engines).toEqual({ node: '^20.19.0 || ^22.12.0 || >=24' });
      expect(satisfies(process.versions.node, '^20.19.0 || ^22.12.0')
        || parseVersion(process.versions.node)[0] >= 24).toBe(true);
    });

    it('has Nest 11 or 12, socket.io (optional), rxjs and reflect-metadata as peers, satisfied by the versions tested here', () => {
      const peers = pkg.peerDependencies ?? {};
      expect(Object.keys(peers).sort()).toEqual([
        '@nestjs/common', '@nestjs/core', '@nestjs/platform-socket.io', '@nestjs/throttler', '@nestjs/websockets',
        'reflect-metadata', 'rxjs', 'socket.io',
      ]);
      for (const name of ['@nestjs/common', '@nestjs/core', '@nestjs/platform-socket.io', '@nestjs/websockets']) {
        expect(peers[name]).toBe('^11.0.0 || ^12.0.0');
      }
      expect(peers['socket.io']).toMatch(/^\^4\.(8|9|[1-9]\d)\.\d+$/);
      expect(peers.rxjs).toMatch(/^\^7\.\d+\.\d+$/);
      expect(peers['reflect-metadata']).toMatch(/^\^0\.2\.\d+$/);
      for (const [name, range] of Object.entries(peers)) {
        expect({ name, range, satisfiedByTested: satisfies(installedVersion(name), range) }).toEqual({ name, range, satisfiedByTested: true });
        // A peer is also a dev dependency, so the tests run against it.
        expect(pkg.devDependencies?.[name]).toBeDefined();
        expect(pkg.dependencies?.[name]).toBeUndefined();
      }
      // @nestjs/throttler: only its metadata keys and storage shape are shared; nothing imports it.
      // socket.io: optional, so npm never installs a copy of its own beside the exact version
      // @nestjs/platform-socket.io depends on (that copy, hoisted, is the one the library loads).
      expect(pkg.peerDependenciesMeta).toEqual({ '@nestjs/throttler': { optional: true }, 'socket.io': { optional: true } });
    });

    it('has the runtime libraries as dependencies', () => {
      const deps = pkg.dependencies ?? {};
      for (const name of ['@nestjs/jwt', 'class-validator', 'class-transformer', 'ioredis', '@socket.io/redis-adapter', 'socket.io-client', 'ws', 'jose', '@standard-schema/spec']) {
        expect({ name, range: deps[name] ?? null, satisfiedByTested: deps[name] ? satisfies(installedVersion(name), deps[name]) : false })
          .toEqual({ name, range: deps[name], satisfiedByTested: true });
      }
      expect(deps['@nestjs/throttler']).toBeUndefined();
      expect(deps['socket.io']).toBeUndefined();
    });
  });

  describe.each(MATRIX)('consumer matrix: Nest $major', ({ major, cells }) => {
    const root = join(work, `nest${major}`);

    beforeAll(async () => {
      mkdirSync(root);
      writeFileSync(join(root, 'package.json'), JSON.stringify({ name: `consumers-nest${major}`, version: '1.0.0', private: true }, null, 2));
      await mustRun('npm', installArgs(tarball, major), root, {}, 540_000);
    }, 600_000);

    it(`installed Nest ${major}, the package and no @nestjs/throttler`, () => {
      for (const name of ['@nestjs/common', '@nestjs/core', '@nestjs/websockets', '@nestjs/platform-socket.io']) {
        expect({ name, major: Number(readJson<PackageJson>(join(root, 'node_modules', name, 'package.json')).version.split('.')[0]) }).toEqual({ name, major });
      }
      expect(readJson<PackageJson>(join(root, 'node_modules', NAME, 'package.json')).name).toBe(NAME);
      expect(() => readFileSync(join(root, 'node_modules/@nestjs/throttler/package.json'))).toThrow();
    });

    it('has exactly one socket.io (`npm ls socket.io`), the version @nestjs/platform-socket.io depends on', async () => {
      const listed = await mustRun('npm', ['ls', 'socket.io', '--all', '--parseable'], root);
      expect(listed.trim().split('\n')).toEqual([join(root, 'node_modules', 'socket.io')]);
      const wanted = readJson<PackageJson>(join(root, 'node_modules/@nestjs/platform-socket.io/package.json')).dependencies?.['socket.io'];
      expect(readJson<PackageJson>(join(root, 'node_modules/socket.io/package.json')).version).toBe(wanted);
    });

    describe.each(cells)('$title', (cell) => {
      const dir = join(root, cell.id);
      let app: Awaited<ReturnType<typeof startApp>> | undefined;
      let url = '';

      beforeAll(async () => {
        mkdirSync(dir);
        cpSync(join(APPS, cell.app, 'package.json'), join(dir, 'package.json'));
        cpSync(join(APPS, cell.app, 'main.ts'), join(dir, 'main.ts'));
        const tsconfig = readJson<{ compilerOptions: Record<string, unknown> }>(join(APPS, cell.app, 'tsconfig.json'));
        if (cell.module) tsconfig.compilerOptions.module = cell.module;
        writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2));
        await mustRun(process.execPath, [TSC, '-p', 'tsconfig.json'], dir);
        app = await startApp(dir);
        url = `http://127.0.0.1:${app.port}`;
      }, 300_000);

      afterEach(() => closeAllClients());
      afterAll(async () => { await stop(app?.child); }, 30_000);

      it(`compiled with skipLibCheck off to ${cell.emits === 'esm' ? 'ES modules' : 'CommonJS'}`, () => {
        expect(readJson<{ compilerOptions: { skipLibCheck: boolean } }>(join(dir, 'tsconfig.json')).compilerOptions.skipLibCheck).toBe(false);
        const compiled = readFileSync(join(dir, 'dist/main.js'), 'utf8');
        if (cell.emits === 'cjs') {
          expect(compiled).toMatch(/require\("nestjs-realtime-security"\)/);
          expect(compiled).not.toMatch(/^import /m);
        } else {
          expect(compiled).toMatch(/^import .* from 'nestjs-realtime-security';$/m);
        }
      });

      it('starts with no warning about two socket.io copies', () => {
        expect(app?.output()).toContain('Nest application successfully started');
        expect(app?.output()).not.toContain('copies of socket.io');
      });

      it(`sees the public API by name, and no internals (${cell.emits === 'cjs' ? 'require' : 'import'})`, async () => {
        const script = cell.emits === 'cjs'
          ? ['-e', `console.log(JSON.stringify(Object.keys(require('${NAME}'))))`]
          : ['--input-type=module', '-e', `console.log(JSON.stringify(Object.keys(await import('${NAME}'))))`];
        const names = JSON.parse((await mustRun(process.execPath, script, dir)).trim()) as string[];
        expect(names).toEqual(expect.arrayContaining(PUBLIC_VALUES));
        expect(names.filter((name) => INTERNAL_VALUES.includes(name))).toEqual([]);
      });

      it.each(TRANSPORTS)('refuses a client without a token with UNAUTHORIZED (%s)', async (transport) => {
        const outcome = await connect(url, '/chat', { transports: [transport] });
        expect(outcome.connected).toBe(false);
        expect(outcome.error?.data?.code).toBe('UNAUTHORIZED');
      });

      it('refuses a forged token with UNAUTHORIZED', async () => {
        const outcome = await connect(url, '/chat', { auth: { token: signToken({ perms: ['chat:write'] }, { secret: 'another-secret-that-is-long-enough-0123456789' }) } });
        expect(outcome.error?.data?.code).toBe('UNAUTHORIZED');
      });

      it.each(TRANSPORTS)('accepts a signed token; the handler sees the principal and the validated payload (%s)', async (transport) => {
        const socket = await connected(url, '/chat', { transports: [transport], auth: { token: signToken({ sub: 'bob', tenant: 'acme', perms: ['chat:write'] }) } });
        await expect(socket.emitWithAck('echo', { text: 'hello' })).resolves.toEqual({ userId: 'bob', tenantId: 'acme', text: 'hello' });
        const invalid = await socket.emitWithAck('echo', { text: '', extra: 1 }) as { error?: { code?: string } };
        expect(invalid.error?.code).toBe('VALIDATION_FAILED');
      });

      it('answers FORBIDDEN to a principal without the permission @WsAuthorize asks for', async () => {
        const socket = await connected(url, '/chat', { auth: { token: signToken({ sub: 'carol', perms: ['chat:read'] }) } });
        const answer = await socket.emitWithAck('echo', { text: 'hello' }) as { error?: { code?: string } };
        expect(answer.error?.code).toBe('FORBIDDEN');
      });

      if (cell.audit) {
        it('runs the `audit` bin from this CommonJS project: every check PASS against the app', async () => {
          const token = signToken({ sub: 'auditor', perms: ['chat:write'] });
          const result = await run(join(root, 'node_modules/.bin/nestjs-realtime-security'),
            ['audit', '--url', url, '--namespace', '/chat', '--max-connections', '5', '--flood-event', 'echo', '--settle', '200', '--json'],
            dir, { REALTIME_AUDIT_TOKEN: token });
          const report = JSON.parse(result.output) as AuditReport;
          expect(report.results.filter((r) => r.status === 'FAIL')).toEqual([]);
          expect(report.summary.pass).toBeGreaterThan(20);
          expect(result.code).toBe(0);
          expect(result.output).not.toContain(token.split('.')[2]);
        }, 120_000);

        it("loads 'nestjs-realtime-security/audit' with require() from this CommonJS project", async () => {
          const out = await mustRun(process.execPath, ['-e', `const audit = require('${NAME}/audit');
            const parsed = audit.parseAuditArguments(['--url', 'http://127.0.0.1:1', '--namespace', '/chat']);
            console.log(JSON.stringify({ runAudit: typeof audit.runAudit, kind: parsed.kind, url: parsed.options.url }));`], dir);
          expect(JSON.parse(out.trim())).toEqual({ runAudit: 'function', kind: 'audit', url: 'http://127.0.0.1:1' });
        });
      }
    });
  });
});
