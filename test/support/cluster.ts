import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSample } from './sample-process.js';
import type { TestRedis } from './redis.js';
import { signToken } from './tokens.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = join(ROOT, 'dist-sample/sample/main.js');
const PAGE = join(ROOT, 'dist-sample/sample/web/public/index.html');

/** The JWT secret every sample node of a test cluster shares. */
export const CLUSTER_SECRET = 'cluster-suite-secret-0123456789-abcdefghijklmnop';

/** One sample process (`node dist-sample/sample/main.js`) of a test cluster. */
export interface SampleNode {
  readonly nodeId: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly process: ChildProcess;
  /** Every line it printed so far (stdout and stderr). */
  readonly output: string[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string | null>;
}

/** Options of {@link startSampleNode}. */
export interface SampleNodeOptions {
  /** A Redis URL (`REDIS_URL`), or a test Redis of either topology (`REDIS_URL` or `REDIS_CLUSTER_NODES`). */
  readonly redisUrl: string | TestRedis;
  readonly nodeId: string;
  /** Extra environment (e.g. `MAX_CONNECTIONS_PER_USER`). */
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
  /** The compiled `sample/main.js` to run; default `dist-sample/sample/main.js`. */
  readonly entry?: string;
}

/**
 * Builds the sample (`npm run build:sample`) when `dist-sample` is missing or older than any
 * source under lib/ or sample/. Call once in `beforeAll`. Jest runs files in parallel workers and
 * the build starts with `rm -rf dist-sample`, so builds are serialised by a lock directory
 * (`mkdir` is atomic) and the staleness is checked again once the lock is held.
 */
export function buildSampleIfStale(): void {
  if (isFresh()) return;
  const lock = join(ROOT, '.sample-build.lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than the longest build is left over from a killed run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`could not take ${lock} within 180 s (another sample build is running)`);
      // A file lock, not test synchronisation: block this worker briefly while another builds.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    if (isFresh()) return;
    const result = spawnSync('npm', ['run', 'build:sample'], { cwd: ROOT, encoding: 'utf8', env: process.env });
    // tsc emits even when another in-progress file has a type error; the entry point is what counts.
    if (!existsSync(ENTRY) || !existsSync(PAGE)) throw new Error(`npm run build:sample did not produce ${ENTRY}:\n${result.stdout}\n${result.stderr}`);
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function isFresh(): boolean {
  if (!existsSync(ENTRY) || !existsSync(PAGE)) return false;
  return newestSource([join(ROOT, 'lib'), join(ROOT, 'sample')]) <= statSync(ENTRY).mtimeMs;
}

/** Starts one sample process in cluster mode on a free port; resolves once it prints its `listening on` line. */
export async function startSampleNode(options: SampleNodeOptions): Promise<SampleNode> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const sample = await spawnSample({
    secret: CLUSTER_SECRET,
    env: { ...(typeof options.redisUrl === 'string' ? { REDIS_URL: options.redisUrl } : options.redisUrl.sampleEnv), NODE_ID: options.nodeId, ...options.env },
    entry: options.entry ?? ENTRY,
    label: `sample node ${options.nodeId}`,
    timeoutMs,
  });
  return { nodeId: options.nodeId, ...sample };
}

/** SIGKILL: the node dies without a goodbye. Resolves once it has exited. */
export async function killNode(node: SampleNode): Promise<void> {
  if (node.process.exitCode === null && node.process.signalCode === null) node.process.kill('SIGKILL');
  await node.exited;
}

/** SIGTERM: graceful shutdown. Resolves with the exit code once it has exited (SIGKILL after `timeoutMs`). */
export async function stopNode(node: SampleNode, timeoutMs = 15_000): Promise<number | string | null> {
  if (node.process.exitCode !== null || node.process.signalCode !== null) return node.exited;
  node.process.kill('SIGTERM');
  const timer = setTimeout(() => node.process.kill('SIGKILL'), timeoutMs);
  try {
    return await node.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Stops every node still running (afterAll). */
export async function stopAll(nodes: readonly (SampleNode | undefined)[]): Promise<void> {
  await Promise.all(nodes.map((node) => (node === undefined ? undefined : killNode(node))));
}

function newestSource(dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  for (const dir of dirs) if (existsSync(dir)) walk(dir);
  return newest;
}

/** Signs a token for the test cluster (the sample's claims: `sub`, `tenant`, `perms`). */
export function clusterToken(sub: string, tenant: string, perms: string[] = ['channel:*', 'presence:read'], expiresInSeconds = 3600): string {
  return signToken({ sub, tenant, perms }, { secret: CLUSTER_SECRET, expiresInSeconds });
}

/** One JSON request with a bearer token; resolves with the status and the parsed body. */
export async function httpJson(method: string, url: string, token?: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(url, {
    method,
    headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return { status: response.status, body: parsed };
}

/** Presence of one user as `GET /moderation/presence/:userId` answers it on `node`. */
export async function presenceOn(node: SampleNode, tenant: string, userId: string): Promise<{ status: string; connections: number; lastSeen: number | null }> {
  const { status, body } = await httpJson('GET', `${node.url}/moderation/presence/${encodeURIComponent(userId)}`, clusterToken('moderator', tenant, ['moderation:read']));
  if (status !== 200) throw new Error(`GET presence answered ${status}: ${JSON.stringify(body)}`);
  return body as { status: string; connections: number; lastSeen: number | null };
}
