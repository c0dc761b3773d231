/**
 * What the package tests share: running commands without blocking the event loop, a scratch
 * directory with no `node_modules` above it, and `npm run build` + `npm pack` in a staging copy
 * (so the repo's own dist/, which other tests read, never vanishes).
 */
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const REPO_MODULES = join(ROOT, 'node_modules');
export const NAME = 'nestjs-realtime-security';

export interface PackageJson {
  name: string;
  version: string;
  type?: string;
  engines?: Record<string, string>;
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  devDependencies?: Record<string, string>;
}

export interface Run {
  code: number | null;
  output: string;
}

/**
 * Runs a command to completion; `output` is stdout and stderr together. Jest's NODE_OPTIONS
 * (--experimental-vm-modules) are not passed on: the consumer runs as a user's would.
 */
export function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 240_000): Promise<Run> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, NODE_OPTIONS: '', ...env } });
    let output = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); output += `\n(killed after ${timeoutMs} ms)`; }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('error', (error) => { clearTimeout(timer); fail(error); });
    child.on('close', (code) => { clearTimeout(timer); done({ code, output }); });
  });
}

export async function mustRun(command: string, args: string[], cwd: string, env: Record<string, string> = {}, timeoutMs = 240_000): Promise<string> {
  const result = await run(command, args, cwd, env, timeoutMs);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${result.code}:\n${result.output}`);
  return result.output;
}

export const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
export const installedVersion = (name: string): string => readJson<PackageJson>(join(REPO_MODULES, name, 'package.json')).version;

/**
 * A scratch directory with no `node_modules` in any ancestor (Node and TypeScript look there, so
 * one would lend the consumer packages it never installed).
 */
export function isolatedScratchDir(): string {
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

/** `npm run build` then `npm pack` in `work/stage` (sharing the repo's node_modules); returns the tarball's path. */
export async function packTarball(work: string): Promise<string> {
  const stage = join(work, 'stage');
  mkdirSync(stage);
  for (const entry of ['package.json', 'README.md', 'bin', 'lib', 'tsconfig.json', 'tsconfig.build.json']) {
    cpSync(join(ROOT, entry), join(stage, entry), { recursive: true });
  }
  symlinkSync(REPO_MODULES, join(stage, 'node_modules'), 'dir');
  await mustRun('npm', ['run', 'build'], stage);
  await mustRun('npm', ['pack', '--pack-destination', work], stage);
  const pkg = readJson<PackageJson>(join(ROOT, 'package.json'));
  const packed = readdirSync(work).filter((file) => file.endsWith('.tgz'));
  if (packed.length !== 1 || packed[0] !== `${NAME}-${pkg.version}.tgz`) throw new Error(`npm pack made ${packed.join(', ')}`);
  return join(work, packed[0]);
}
