/**
 * `npm run bench:scaling [-- --quick]`: the sample app on 1, 2 and 3 Nest processes, on a single
 * Redis and on a Redis Cluster (3 masters, 3 replicas), both started here on free ports. For each
 * configuration: handshakes/s (connect + disconnect of distinct users, spread over the nodes),
 * broadcast fan-out (messages delivered per second to viewers spread over the nodes), and Redis
 * commands per handshake (the `INFO commandstats` deltas of every master over the handshake
 * phase, heartbeats and bus reads included: what Redis executes, commands inside Lua scripts
 * counted one by one) and round trips per handshake (`MONITOR` on every master over a separate
 * phase, counting the commands clients sent, not those a script ran). These machines have 2
 * cores: read ratios and commands per operation, not absolute figures. Writes
 * bench/results/scaling.json.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cluster, Redis } from 'ioredis';
import { io, type Socket } from 'socket.io-client';
import { clusterToken, startSampleNode, stopAll, type SampleNode } from '../test/support/cluster.js';
import { RedisClusterServer } from '../test/support/redis-cluster.js';
import { clusterTarget, RedisServer, type TestRedis } from '../test/support/redis.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const resultsDir = join(root, 'bench', 'results');
/** The built sample (this file runs from dist-bench/bench/). */
const entry = join(root, 'dist-sample', 'sample', 'main.js');
const quick = process.argv.includes('--quick');
const HANDSHAKES = quick ? 200 : 1000;
const PARALLEL = 32;
const VIEWERS_PER_NODE = quick ? 20 : 50;
const MESSAGES = quick ? 50 : 200;

interface Figures {
  topology: 'single' | 'cluster';
  nodes: number;
  handshakesPerSec: number;
  commandsPerHandshake: number;
  roundTripsPerHandshake: number;
  roundTripsByName: Record<string, number>;
  commandsByName: Record<string, number>;
  fanoutMsgsPerSec: number;
}

/** A client for measuring, connected (a Cluster knows its masters only once it is ready). */
async function readyClient(target: TestRedis): Promise<Redis | Cluster> {
  const client = target.client();
  if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  return client;
}

/** Sum of `calls` per command over every master (a single Redis is its own master). */
async function commandStats(target: TestRedis): Promise<Map<string, number>> {
  const client = await readyClient(target);
  try {
    const members: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
    const totals = new Map<string, number>();
    for (const member of members) {
      const info = await member.info('commandstats');
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) totals.set(match[1]!, (totals.get(match[1]!) ?? 0) + Number(match[2]));
    }
    return totals;
  } finally {
    client.disconnect();
  }
}

function open(url: string, user: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(`${url}/chat`, { forceNew: true, reconnection: false, transports: ['websocket'], timeout: 10_000, auth: { token: clusterToken(user, 'bench', ['channel:*']) } });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error) => { socket.disconnect(); reject(error); });
  });
}

/** Commands sent by clients (not run by a script) on every master while `work` runs, by name (`redis-cli monitor` per master). */
async function roundTrips(target: TestRedis, work: () => Promise<void>): Promise<Map<string, number>> {
  const client = await readyClient(target);
  const counts = new Map<string, number>();
  const monitors: ChildProcess[] = [];
  try {
    const ports = client instanceof Cluster ? client.nodes('master').map((member) => member.options.port as number) : [client.options.port as number];
    for (const port of ports) {
      const monitor = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
      let rest = '';
      let ready!: () => void;
      const started = new Promise<void>((resolve) => { ready = resolve; });
      monitor.stdout.on('data', (chunk: Buffer) => {
        const lines = (rest + chunk.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          if (line.startsWith('OK')) ready();
          const match = /^\d+\.\d+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
          if (match === null || match[1] === 'lua') continue;
          const name = match[2]!.toLowerCase();
          counts.set(name, (counts.get(name) ?? 0) + 1);
        }
      });
      monitors.push(monitor);
      await started;
    }
    await work();
    // Let the last MONITOR lines arrive.
    await new Promise((resolve) => setTimeout(resolve, 300));
  } finally {
    for (const monitor of monitors) monitor.kill('SIGKILL');
    client.disconnect();
  }
  return counts;
}

async function handshakes(nodes: SampleNode[], run: string, total = HANDSHAKES): Promise<number> {
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < total) {
      const i = next++;
      const socket = await open(nodes[i % nodes.length]!.url, `hs-${run}-${i}`);
      socket.disconnect();
    }
  }));
  return total / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function fanout(nodes: SampleNode[], run: string): Promise<number> {
  const viewers: Socket[] = [];
  for (const [n, node] of nodes.entries()) {
    for (let i = 0; i < VIEWERS_PER_NODE; i += 1) viewers.push(await open(node.url, `viewer-${run}-${n}-${i}`));
  }
  const sender = await open(nodes[0]!.url, `sender-${run}`);
  try {
    await Promise.all([...viewers, sender].map((s) => s.timeout(10_000).emitWithAck('channel:join', { channelId: `fan-${run}` })));
    const expected = MESSAGES * viewers.length;
    let received = 0;
    const done = new Promise<void>((resolve) => {
      for (const viewer of viewers) viewer.on('message', () => { received += 1; if (received === expected) resolve(); });
    });
    const started = process.hrtime.bigint();
    for (let i = 0; i < MESSAGES; i += 1) sender.emit('message:send', { channelId: `fan-${run}`, text: `m${i}` });
    await done;
    return expected / (Number(process.hrtime.bigint() - started) / 1e9);
  } finally {
    for (const socket of [...viewers, sender]) socket.disconnect();
  }
}

async function measure(target: TestRedis, count: number): Promise<Figures> {
  const run = `${target.topology}-${count}-${Date.now().toString(36)}`;
  const nodes = await Promise.all(Array.from({ length: count }, (_, i) => startSampleNode({
    entry, redisUrl: target, nodeId: `bench-${run}-${i}`,
    env: { MAX_CONNECTIONS_PER_USER: '10', HANDSHAKE_RATE_PER_ADDRESS: '0', MESSAGE_RATE_PER_USER: '1000000' },
    timeoutMs: 120_000,
  })));
  try {
    // Warm-up (scripts loaded, JIT), then the measured phase.
    await Promise.all(nodes.map((node, i) => open(node.url, `warm-${run}-${i}`).then((s) => s.disconnect())));
    const before = await commandStats(target);
    const handshakesPerSec = await handshakes(nodes, run);
    const after = await commandStats(target);
    const commandsByName: Record<string, number> = {};
    let total = 0;
    for (const [name, calls] of after) {
      const delta = calls - (before.get(name) ?? 0);
      // The measurement's own INFO calls are not the app's.
      if (delta > 0 && name !== 'info') {
        commandsByName[name] = Math.round((delta / HANDSHAKES) * 100) / 100;
        total += delta;
      }
    }
    const MONITORED = 100;
    const trips = await roundTrips(target, async () => { await handshakes(nodes, `${run}-mon`, MONITORED); });
    const roundTripsByName: Record<string, number> = {};
    let tripTotal = 0;
    for (const [name, calls] of trips) {
      if (['ping', 'info', 'monitor', 'cluster', 'command'].includes(name)) continue;
      roundTripsByName[name] = Math.round((calls / MONITORED) * 100) / 100;
      tripTotal += calls;
    }
    const fanoutMsgsPerSec = await fanout(nodes, run);
    return {
      topology: target.topology, nodes: count, handshakesPerSec: Math.round(handshakesPerSec),
      commandsPerHandshake: Math.round((total / HANDSHAKES) * 100) / 100, commandsByName,
      roundTripsPerHandshake: Math.round((tripTotal / MONITORED) * 100) / 100, roundTripsByName,
      fanoutMsgsPerSec: Math.round(fanoutMsgsPerSec),
    };
  } finally {
    await stopAll(nodes);
  }
}

async function main(): Promise<void> {
  spawnSync('npm', ['run', 'build:sample'], { cwd: root, stdio: 'inherit' });
  if (!existsSync(entry)) throw new Error(`npm run build:sample did not produce ${entry}`);
  const single = await RedisServer.start();
  const cluster = await RedisClusterServer.start();
  const results: Figures[] = [];
  try {
    const targets: TestRedis[] = [
      { topology: 'single', option: { url: single.url }, sampleEnv: { REDIS_URL: single.url }, cluster: null, client: () => new Redis(single.url) },
      clusterTarget(cluster),
    ];
    const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
    for (const target of targets.filter((t) => only === undefined || t.topology === only)) {
      for (const count of [1, 2, 3]) {
        const figures = await measure(target, count);
        results.push(figures);
        console.log(`${figures.topology.padEnd(7)} nodes=${count}  handshakes/s=${figures.handshakesPerSec}  fan-out msgs/s=${figures.fanoutMsgsPerSec}  round trips/handshake=${figures.roundTripsPerHandshake} ${JSON.stringify(figures.roundTripsByName)}  commands executed/handshake=${figures.commandsPerHandshake}`);
      }
    }
  } finally {
    await single.stop();
    await cluster.stop();
  }
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, quick ? 'scaling.quick.json' : 'scaling.json'), `${JSON.stringify({ at: new Date().toISOString(), handshakes: HANDSHAKES, viewersPerNode: VIEWERS_PER_NODE, messages: MESSAGES, results }, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
