import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { freePort, hasRedisServer, pingPort } from './redis.js';

const HOW_TO_GET_ONE = 'Redis Cluster tests need redis-server and redis-cli 7+ (`apt-get install redis-server`); they start their own cluster on free ports.';

/** One `redis-server --cluster-enabled yes` of a test cluster. */
interface ClusterMember {
  readonly port: number;
  /** The cluster bus port (given explicitly: `port + 10000` may be past 65535 for an ephemeral port). */
  readonly busPort: number;
  process: ChildProcess | null;
}

/** Options of {@link RedisClusterServer.start}. */
export interface RedisClusterStartOptions {
  /** Masters (3 at least: Redis Cluster needs a majority of masters to fail one over). @default 3 */
  readonly masters?: number;
  /** Replicas per master. @default 1 */
  readonly replicas?: number;
  /** `cluster-node-timeout`, ms: how long a master may be unreachable before its replica takes over. @default 2000 */
  readonly nodeTimeoutMs?: number;
}

/**
 * A real local Redis Cluster of the test's own: `masters × (1 + replicas)` redis-servers with
 * `--cluster-enabled yes` on free ports in a temporary directory, joined by
 * `redis-cli --cluster create … --cluster-replicas N --cluster-yes`; `start()` resolves once every
 * member reports `cluster_state:ok` and every master has its replicas attached. `stop()` kills
 * them all and removes the directory. Destructive tests (`killMasterOf`) use one of their own.
 */
export class RedisClusterServer {
  private constructor(private readonly dir: string, private readonly members: ClusterMember[], private readonly nodeTimeoutMs: number) {}

  /** `host:port` of every member (the seeds a client is given). */
  get seeds(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.port}`);
  }

  /** `[{ host, port }]` of every member, for `new Cluster(...)`. */
  get startupNodes(): { host: string; port: number }[] {
    return this.members.map((m) => ({ host: '127.0.0.1', port: m.port }));
  }

  static async start(options: RedisClusterStartOptions = {}): Promise<RedisClusterServer> {
    if (!hasRedisServer() || spawnSync('redis-cli', ['--version'], { stdio: 'ignore' }).status !== 0) throw new Error(HOW_TO_GET_ONE);
    const masters = options.masters ?? 3;
    const replicas = options.replicas ?? 1;
    const nodeTimeoutMs = options.nodeTimeoutMs ?? 2000;
    const dir = mkdtempSync(join(tmpdir(), 'rts-redis-cluster-'));
    const members: ClusterMember[] = [];
    const used = new Set<number>();
    const distinctPort = async () => {
      for (;;) {
        const port = await freePort();
        if (!used.has(port)) {
          used.add(port);
          return port;
        }
      }
    };
    for (let i = 0; i < masters * (1 + replicas); i += 1) members.push({ port: await distinctPort(), busPort: await distinctPort(), process: null });
    const cluster = new RedisClusterServer(dir, members, nodeTimeoutMs);
    try {
      await Promise.all(members.map((m) => cluster.launch(m)));
      const created = await run('redis-cli', ['--cluster', 'create', ...cluster.seeds, '--cluster-replicas', String(replicas), '--cluster-yes']);
      if (created.code !== 0) throw new Error(`redis-cli --cluster create failed (${created.code}):\n${created.output}`);
      await cluster.waitHealthy(30_000);
      await cluster.waitReplicasAttached(masters, replicas, 30_000);
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return cluster;
  }

  /** A cluster client for assertions (every member as a seed); close it with `quit()`. */
  client(): Cluster {
    const client = new Cluster(this.startupNodes, { redisOptions: { maxRetriesPerRequest: 1 }, retryDelayOnClusterDown: 200, retryDelayOnFailover: 200 });
    client.on('error', () => undefined);
    return client;
  }

  /** Ports of the members now running. */
  get runningPorts(): number[] {
    return this.members.filter((m) => m.process !== null).map((m) => m.port);
  }

  /**
   * SIGKILLs the master now serving `key`'s slot (no goodbye, like a crashed machine) and resolves
   * with its port once it has exited. Its replica takes over after `cluster-node-timeout`.
   */
  async killMasterOf(key: string): Promise<number> {
    const port = await this.masterPortOf(key);
    const member = this.members.find((m) => m.port === port);
    const child = member?.process;
    if (member === undefined || child === null || child === undefined) throw new Error(`no running member on port ${port}`);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    member.process = null;
    return port;
  }

  /** Port of the master serving `key`'s slot, as a running member sees it. */
  async masterPortOf(key: string): Promise<number> {
    return (await this.masterPortsOf([key]))[0] as number;
  }

  /** Ports of the masters serving each key's slot, as one running member sees them (one connection). */
  async masterPortsOf(keys: readonly string[]): Promise<number[]> {
    return this.withMember(async (redis) => {
      const slots = (await redis.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, ...unknown[]], ...unknown[]][];
      return Promise.all(keys.map(async (key) => {
        const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', key));
        const range = slots.find(([from, to]) => slot >= from && slot <= to);
        if (range === undefined) throw new Error(`slot ${slot} is not served`);
        return Number(range[2][1]);
      }));
    });
  }

  /** Resolves once every running member reports `cluster_state:ok` (polling, up to `timeoutMs`). */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(this.runningPorts.map((port) => clusterInfo(port).catch(() => '')));
      if (states.length > 0 && states.every((info) => /cluster_state:ok/.test(info))) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy within ${timeoutMs} ms:\n${states.join('\n---\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** SIGKILLs every member (an outage of the whole cluster), keeping their cluster config files. */
  async halt(): Promise<void> {
    await Promise.all(this.members.map(async (member) => {
      const child = member.process;
      if (child === null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
      member.process = null;
    }));
  }

  /** Starts every stopped member again on its port: the cluster forms again from the config files, with no data (no persistence). */
  async resume(): Promise<void> {
    await Promise.all(this.members.filter((m) => m.process === null).map((m) => this.launch(m)));
    await this.waitHealthy(30_000);
  }

  /**
   * FLUSHALL on every master. The one serving the `{nodes}` hash tag (the library's heartbeats,
   * whose loss starts each node's rebuild) goes last, so no rebuild runs between two flushes (a
   * cluster has no atomic flush of all shards).
   */
  async flushAll(): Promise<void> {
    const client = this.client();
    try {
      if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
      const registry = await this.masterPortOf('{nodes}');
      const masters = client.nodes('master');
      await Promise.all(masters.filter((member) => member.options.port !== registry).map((member) => member.flushall()));
      await Promise.all(masters.filter((member) => member.options.port === registry).map((member) => member.flushall()));
    } finally {
      client.disconnect();
    }
  }

  /** Kills every member and removes the directory. */
  async stop(): Promise<void> {
    await Promise.all(this.members.map(async (member) => {
      const child = member.process;
      if (child === null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGKILL');
      await exited;
      member.process = null;
    }));
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async waitReplicasAttached(masters: number, replicas: number, timeoutMs: number): Promise<void> {
    if (replicas === 0) return;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const infos = await Promise.all(this.runningPorts.map((port) => command(port, ['INFO', 'replication']).catch(() => '')));
      const online = infos.filter((info) => /role:master/.test(info)).map((info) => (info.match(/slave\d+:[^\r\n]*state=online/g) ?? []).length);
      if (online.length === masters && online.every((n) => n >= replicas)) return;
      if (Date.now() > deadline) throw new Error(`replicas not attached within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async withMember<T>(task: (redis: Redis) => Promise<T>): Promise<T> {
    const port = this.runningPorts[0];
    if (port === undefined) throw new Error('no member is running');
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      return await task(redis);
    } finally {
      redis.disconnect();
    }
  }

  private async launch(member: ClusterMember): Promise<void> {
    const child = spawn('redis-server', [
      '--port', String(member.port), '--cluster-port', String(member.busPort), '--bind', '127.0.0.1', '--protected-mode', 'no',
      '--cluster-enabled', 'yes', '--cluster-config-file', join(this.dir, `nodes-${member.port}.conf`),
      '--cluster-node-timeout', String(this.nodeTimeoutMs), '--dir', this.dir, '--save', '', '--appendonly', 'no',
    ], { stdio: 'ignore' });
    member.process = child;
    child.once('exit', () => { if (member.process === child) member.process = null; });
    const deadline = Date.now() + 10_000;
    while (!(await pingPort(member.port))) {
      if (member.process !== child) throw new Error(`redis-server exited at start on port ${member.port}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${member.port} within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

/** `CLUSTER INFO` of the member on `port`. */
function clusterInfo(port: number): Promise<string> {
  return command(port, ['CLUSTER', 'INFO']);
}

/** One command on one member through redis-cli's raw output (no cluster redirection). */
async function command(port: number, args: string[]): Promise<string> {
  const result = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  if (result.code !== 0) throw new Error(result.output);
  return result.output;
}

function run(cmd: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}
