/**
 * The package as a user gets it: `npm run build` and `npm pack` (in a staging copy, so the repo's
 * own dist/, which other tests read, never vanishes), the tarball's contents and dependency
 * declarations, then a consumer project that installs the tarball offline, compiles a small Nest
 * app against `nestjs-realtime-security` with the consumer's own TypeScript settings (no
 * skipLibCheck, no @nestjs/throttler installed) and runs it on port 0.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { Socket as ClientSocket } from 'socket.io-client';
import { closeAllClients, connect, connected, TRANSPORTS } from '../support/clients.js';
import { signToken, TEST_SECRET } from '../support/tokens.js';

const ROOT = resolve(import.meta.dirname, '../..');
const REPO_MODULES = join(ROOT, 'node_modules');
const NAME = 'nestjs-realtime-security';

interface PackageJson {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies?: Record<string, string>;
}

interface Run {
  code: number | null;
  output: string;
}

/** Runs a command to completion without blocking the event loop; `output` is stdout and stderr together. */
function run(command: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NODE_OPTIONS: '' } });
    let output = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); output += `\n(killed after ${timeoutMs} ms)`; }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('error', (error) => { clearTimeout(timer); fail(error); });
    child.on('close', (code) => { clearTimeout(timer); done({ code, output }); });
  });
}

async function mustRun(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${result.code}:\n${result.output}`);
  return result.output;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const installedVersion = (name: string): string => readJson<PackageJson>(join(REPO_MODULES, name, 'package.json')).version;

type Version = [number, number, number];
const parseVersion = (text: string): Version => {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(text);
  if (!match) throw new Error(`not a version: ${text}`);
  return [Number(match[1]), Number(match[2]), Number(match[3])];
};
const compare = (a: Version, b: Version): number => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/**
 * Whether `version` satisfies a caret (`^1.2.3`) or tilde (`~1.2.3`) range, the only forms this
 * package.json uses (anything else fails the test, so a new form gets a look).
 */
function satisfies(version: string, range: string): boolean {
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

/** The consumer: a gateway with `@WsAuthorize`, `@WsPrincipal` and `WsValidationPipe`, as a user writes it. */
const CONSUMER_MAIN = `
import 'reflect-metadata';
import { Module, UsePipes } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { IsString, Length } from 'class-validator';
import * as api from 'nestjs-realtime-security';
import {
  RealtimeSecurityModule,
  SecureIoAdapter,
  WsAuthorize,
  WsPrincipal,
  WsValidationPipe,
  type Principal,
  type RealtimeSecurityOptions,
} from 'nestjs-realtime-security';

export class EchoDto {
  @IsString() @Length(1, 100) text!: string;
}

@UsePipes(new WsValidationPipe())
@WebSocketGateway({ namespace: '/chat' })
export class ChatGateway {
  @WsAuthorize('chat:write')
  @SubscribeMessage('echo')
  echo(@WsPrincipal() me: Principal, @MessageBody() dto: EchoDto) {
    return { ok: true, userId: me.userId, tenantId: me.tenantId, text: dto.text };
  }
}

const secret = process.env.JWT_SECRET;
if (!secret) throw new Error('JWT_SECRET is required');
const options: RealtimeSecurityOptions = { jwt: { secret, algorithms: ['HS256'] }, logInventory: false };

@Module({ imports: [RealtimeSecurityModule.forRoot(options)], providers: [ChatGateway] })
export class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
app.useWebSocketAdapter(new SecureIoAdapter(app));
await app.listen(0, '127.0.0.1');
const address = app.getHttpServer().address() as { port: number };
console.log('READY ' + JSON.stringify({ port: address.port, exports: Object.keys(api).sort() }));
process.once('SIGTERM', () => { void app.close().then(() => process.exit(0)); });
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022'],
    types: ['node'],
    strict: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    skipLibCheck: false,
    outDir: 'out',
  },
  files: ['main.ts'],
};

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
];

/** Internals that must not leak from the root entry point. */
const INTERNAL_VALUES = [
  'ConnectionLifecycle', 'ConnectionSession', 'sessionOf', 'HandshakePipeline', 'MessagePipeline', 'SecureServer',
  'NamespaceSecurity', 'RESOLVED_OPTIONS', 'REALTIME_SECURITY_OPTIONS', 'OriginPolicy', 'HandshakeRateLimiter',
  'UserMessageBudget', 'ClusterNodeService', 'RedisConnectionLeaseStore', 'RedisPresenceStore', 'RedisThrottlerStorage',
  'formatInventory', 'HandshakeRefusedError', 'describe', 'checkResourceId', 'grantCovers', 'TENANT_ROOM_PREFIX',
];

/**
 * A scratch directory with no `node_modules` in any ancestor (Node and TypeScript look there, so
 * one would lend the consumer packages it never installed).
 */
function isolatedScratchDir(): string {
  const hasAncestorModules = (dir: string): boolean => {
    for (let at = resolve(dir); ; at = dirname(at)) {
      if (existsSync(join(at, 'node_modules'))) return true;
      if (dirname(at) === at) return false;
    }
  };
  const candidates = [process.env.PACK_TEST_TMPDIR, tmpdir(), '/var/tmp', '/dev/shm'].filter((dir): dir is string => !!dir && existsSync(dir));
  const base = candidates.find((dir) => !hasAncestorModules(dir));
  if (!base) throw new Error(`no scratch directory without a node_modules above it among ${candidates.join(', ')}; set PACK_TEST_TMPDIR`);
  return mkdtempSync(join(base, 'rts-pack-'));
}

describe('the packed package, installed and used by a consumer project', () => {
  const work = isolatedScratchDir();
  const stage = join(work, 'stage');
  const consumer = join(work, 'consumer');
  const pkg = readJson<PackageJson>(join(ROOT, 'package.json'));
  let tarball = '';
  let entries: string[] = [];
  let installMode = '';
  let app: ReturnType<typeof spawn> | undefined;
  let url = '';
  let exported: string[] = [];

  beforeAll(async () => {
    // 1. `npm run build` then `npm pack`, in a staging copy that shares the repo's node_modules.
    mkdirSync(stage);
    for (const entry of ['package.json', 'README.md', 'bin', 'lib', 'tsconfig.json', 'tsconfig.build.json']) {
      cpSync(join(ROOT, entry), join(stage, entry), { recursive: true });
    }
    symlinkSync(REPO_MODULES, join(stage, 'node_modules'), 'dir');
    await mustRun('npm', ['run', 'build'], stage);
    await mustRun('npm', ['pack', '--pack-destination', work], stage);
    const packed = readdirSync(work).filter((file) => file.endsWith('.tgz'));
    expect(packed).toEqual([`${NAME}-${pkg.version}.tgz`]);
    tarball = join(work, packed[0]);
    entries = (await mustRun('tar', ['-tzf', tarball], work)).split('\n').filter(Boolean);

    // 2. A consumer project that installs the tarball offline (npm's cache); if npm cannot, the
    //    extracted tarball with only its declared dependencies and peers linked from this repo.
    mkdirSync(consumer);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }, null, 2));
    // The peers at the versions tested here, as the README's install line names them. socket.io is
    // pinned to the version @nestjs/platform-socket.io depends on: with a newer top-level socket.io,
    // npm nests a second copy under @nestjs/platform-socket.io and IoAdapter's types no longer match.
    const extras = ['@nestjs/common', '@nestjs/core', '@nestjs/websockets', '@nestjs/platform-socket.io', 'socket.io', 'rxjs',
      'reflect-metadata', '@nestjs/platform-express', 'class-validator', '@types/node'];
    const install = await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball,
      ...extras.map((name) => `${name}@${installedVersion(name)}`)], consumer);
    if (install.code === 0) {
      installMode = 'npm install --offline';
    } else {
      installMode = 'extracted tarball + declared dependencies linked';
      rmSync(join(consumer, 'node_modules'), { recursive: true, force: true });
      const target = join(consumer, 'node_modules', NAME);
      mkdirSync(target, { recursive: true });
      await mustRun('tar', ['-xzf', tarball, '-C', target, '--strip-components=1'], work);
      const optional = pkg.peerDependenciesMeta ?? {};
      const linked = new Set([...Object.keys(pkg.dependencies ?? {}),
        ...Object.keys(pkg.peerDependencies ?? {}).filter((name) => !optional[name]?.optional), ...extras]);
      for (const name of linked) {
        mkdirSync(dirname(join(consumer, 'node_modules', name)), { recursive: true });
        symlinkSync(join(REPO_MODULES, name), join(consumer, 'node_modules', name), 'dir');
      }
    }

    // 3. Compile the consumer with the repo's TypeScript and the consumer's own settings, and start it.
    writeFileSync(join(consumer, 'main.ts'), CONSUMER_MAIN);
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG, null, 2));
    await mustRun(process.execPath, [join(REPO_MODULES, 'typescript/bin/tsc'), '-p', 'tsconfig.json'], consumer);
    const child = spawn(process.execPath, ['out/main.js'], {
      cwd: consumer,
      env: { PATH: process.env.PATH ?? '', JWT_SECRET: TEST_SECRET },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    app = child;
    const ready = await new Promise<{ port: number; exports: string[] }>((done, fail) => {
      let output = '';
      const timer = setTimeout(() => fail(new Error(`the consumer app did not start within 60 s:\n${output}`)), 60_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const line = /^READY (.*)$/m.exec(output);
        if (line) { clearTimeout(timer); done(JSON.parse(line[1]) as { port: number; exports: string[] }); }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`the consumer app exited (${code}) before listening:\n${output}`)); });
    });
    child.removeAllListeners('exit');
    url = `http://127.0.0.1:${ready.port}`;
    exported = ready.exports;
  }, 300_000);

  afterEach(() => closeAllClients());

  afterAll(async () => {
    if (app && app.exitCode === null) {
      const exited = new Promise((done) => app!.once('exit', done));
      app.kill('SIGTERM');
      await exited;
    }
    rmSync(work, { recursive: true, force: true });
  }, 30_000);

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
      const dist = join(consumer, 'node_modules', NAME, 'dist');
      const declared = new Set([...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})]);
      const builtins = new Set(builtinModules);
      const imported = new Set<string>();
      for (const file of filesUnder(dist).filter((f) => f.endsWith('.js'))) {
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
  });

  describe('package.json', () => {
    it('has Nest, socket.io, rxjs and reflect-metadata as peers, satisfied by the versions tested here', () => {
      const peers = pkg.peerDependencies ?? {};
      expect(Object.keys(peers).sort()).toEqual([
        '@nestjs/common', '@nestjs/core', '@nestjs/platform-socket.io', '@nestjs/throttler', '@nestjs/websockets',
        'reflect-metadata', 'rxjs', 'socket.io',
      ]);
      for (const name of ['@nestjs/common', '@nestjs/core', '@nestjs/platform-socket.io', '@nestjs/websockets']) {
        expect(peers[name]).toMatch(/^\^12\.\d+\.\d+$/);
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
      expect(pkg.peerDependenciesMeta).toEqual({ '@nestjs/throttler': { optional: true } });
    });

    it('has the runtime libraries as dependencies', () => {
      const deps = pkg.dependencies ?? {};
      for (const name of ['@nestjs/jwt', 'class-validator', 'class-transformer', 'ioredis', '@socket.io/redis-adapter', 'socket.io-client', 'ws']) {
        expect({ name, range: deps[name] ?? null, satisfiedByTested: deps[name] ? satisfies(installedVersion(name), deps[name]) : false })
          .toEqual({ name, range: deps[name], satisfiedByTested: true });
      }
      expect(deps['@nestjs/throttler']).toBeUndefined();
    });
  });

  describe(`the consumer app (compiled with skipLibCheck off, no @nestjs/throttler installed)`, () => {
    it('installed the package without @nestjs/throttler', () => {
      expect(installMode).not.toBe('');
      expect(existsSync(join(consumer, 'node_modules', NAME, 'dist', 'index.js'))).toBe(true);
      expect(existsSync(join(consumer, 'node_modules', '@nestjs', 'throttler'))).toBe(false);
      // One socket.io, shared by the package and @nestjs/platform-socket.io.
      expect(existsSync(join(consumer, 'node_modules', '@nestjs', 'platform-socket.io', 'node_modules', 'socket.io'))).toBe(false);
    });

    it('sees the public API by name, and no internals, from the root entry point', () => {
      expect(exported).toEqual(expect.arrayContaining(PUBLIC_VALUES));
      expect(exported.filter((name) => INTERNAL_VALUES.includes(name))).toEqual([]);
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
      const socket: ClientSocket = await connected(url, '/chat', { transports: [transport], auth: { token: signToken({ sub: 'bob', tenant: 'acme', perms: ['chat:write'] }) } });
      await expect(socket.emitWithAck('echo', { text: 'hello' })).resolves.toEqual({ ok: true, userId: 'bob', tenantId: 'acme', text: 'hello' });
      const invalid = await socket.emitWithAck('echo', { text: '', extra: 1 }) as { error?: { code?: string } };
      expect(invalid.error?.code).toBe('VALIDATION_FAILED');
    });

    it('answers FORBIDDEN to a principal without the permission @WsAuthorize asks for', async () => {
      const socket = await connected(url, '/chat', { auth: { token: signToken({ sub: 'carol', perms: ['chat:read'] }) } });
      const answer = await socket.emitWithAck('echo', { text: 'hello' }) as { error?: { code?: string } };
      expect(answer.error?.code).toBe('FORBIDDEN');
    });
  });
});
