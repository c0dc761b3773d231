/**
 * The package as a user gets it: `npm run build` and `npm pack` (see package-under-test.ts), the
 * tarball's contents and its package.json (entry points, engines, dependency declarations). The
 * consumer apps that install the tarball and run on it are in consumer-matrix.spec.ts.
 */
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { installedVersion, isolatedScratchDir, mustRun, packTarball, readJson, ROOT, type PackageJson } from './package-under-test.js';

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

describe('the packed package', () => {
  const work = isolatedScratchDir();
  const extracted = join(work, 'extracted');
  const pkg = readJson<PackageJson>(join(ROOT, 'package.json'));
  let entries: string[] = [];

  beforeAll(async () => {
    const tarball = await packTarball(work);
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
      for (const name of ['@nestjs/jwt', 'class-validator', 'class-transformer', 'ioredis', '@socket.io/redis-adapter', 'socket.io-client', 'ws']) {
        expect({ name, range: deps[name] ?? null, satisfiedByTested: deps[name] ? satisfies(installedVersion(name), deps[name]) : false })
          .toEqual({ name, range: deps[name], satisfiedByTested: true });
      }
      expect(deps['@nestjs/throttler']).toBeUndefined();
      expect(deps['socket.io']).toBeUndefined();
    });
  });
});
