/**
 * `npm run bench [-- --quick] [--only raw,secured] [--phases closed,open,handshakes,memory] [--profile secured]`
 * (`--profile` adds `--cpu-prof` to those servers; profiles go to bench/results/profiles/, not committed)
 *
 * The same echo workload (`{ channelId, text }` with an ack) against raw Socket.IO, a bare Nest
 * gateway, the tutorial stack and this library (in memory, and in cluster mode on Redis). Each
 * server runs in its own process pinned to CPU 0; the load generator runs in another, pinned to
 * CPU 1. Writes bench/results/latest.json (medians of the runs), latest.details.json (every run,
 * the generator's own CPU, the churn figures) and latest.svg, and prints one table. A --quick run
 * writes quick.* instead, a partial one (--only, --phases) partial.*; neither is committed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderChart } from './chart.js';
import { IpcClient } from './support/ipc.js';
import { SCENARIOS, type CpuSnapshot, type MemorySnapshot, type ScenarioName, type ServerReady } from './support/protocol.js';
import { median, round } from './support/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
/** bench/ in the source tree (this file runs from dist-bench/bench/). */
const benchDir = join(here, '..', '..', 'bench');
const resultsDir = join(benchDir, 'results');

interface Settings {
  runs: number;
  closedSockets: number;
  closedWarmupMs: number;
  closedMeasureMs: number;
  openSockets: number;
  openWarmupMs: number;
  openMeasureMs: number;
  handshakeParallel: number;
  handshakeMs: number;
  memoryConnections: number;
  churnWaves: number;
  churnConnections: number;
  /** Wait before churn heap readings: covers the library's presence flap window (2 s). */
  settleMs: number;
}

const QUICK: Settings = {
  runs: 1, closedSockets: 32, closedWarmupMs: 500, closedMeasureMs: 1500, openSockets: 16, openWarmupMs: 300, openMeasureMs: 1500,
  handshakeParallel: 64, handshakeMs: 1500, memoryConnections: 400, churnWaves: 10, churnConnections: 60, settleMs: 2100,
};
const FULL: Settings = {
  runs: 3, closedSockets: 64, closedWarmupMs: 1000, closedMeasureMs: 4000, openSockets: 64, openWarmupMs: 1000, openMeasureMs: 4000,
  handshakeParallel: 64, handshakeMs: 3000, memoryConnections: 2000, churnWaves: 10, churnConnections: 200, settleMs: 2500,
};

/** One scenario's figures in one run. */
interface RunFigures {
  cpuUsPerMsg: number;
  msgsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  handshakesPerSec: number;
  heapKbPerConn: number;
  rssKbPerConn: number;
  churnHeapRatio: number;
  loadCpuClosed: number;
  loadCpuOpen: number;
  loadCpuHandshakes: number;
  serverCpuClosed: number;
  /** Server user-mode CPU µs per message (cpuUsPerMsg without the kernel's share: syscalls, wake-ups). */
  userCpuUsPerMsg: number;
  /** Server CPU µs per handshake (robust to a busy machine, unlike handshakes/s). */
  cpuUsPerHandshake: number;
  serverCpuHandshakes: number;
  errors: string[];
}

const METRICS = ['cpuUsPerMsg', 'msgsPerSec', 'p50Ms', 'p99Ms', 'handshakesPerSec', 'heapKbPerConn', 'rssKbPerConn'] as const;
type Metric = (typeof METRICS)[number];
export type ScenarioResult = Record<Metric, number | null>;

export interface BenchResults {
  date: string;
  machine: string;
  node: string;
  scenarios: Partial<Record<ScenarioName, ScenarioResult>>;
  ratios: {
    securedVsBareNestCpuPerMsg: number | null;
    securedVsNaiveMsgsPerSec: number | null;
    securedVsBareNestHandshakes: number | null;
    securedMinusBareNestHeapKbPerConn: number | null;
    securedRedisVsSecuredHandshakes: number | null;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const cpuUs = (a: CpuSnapshot, b: CpuSnapshot): number => b.user - a.user + b.system - a.system;

const PHASES = ['closed', 'open', 'handshakes', 'memory'] as const;
type Phase = (typeof PHASES)[number];

function parseArgs(argv: string[]): { quick: boolean; only: ScenarioName[]; profile: ScenarioName[]; phases: Set<Phase> } {
  const list = (flag: string): ScenarioName[] => {
    const i = argv.indexOf(flag);
    if (i < 0) return [];
    const names = (argv[i + 1] ?? '').split(',').filter(Boolean);
    for (const name of names) if (!SCENARIOS.includes(name as ScenarioName)) throw new Error(`${flag}: unknown scenario ${name} (one of ${SCENARIOS.join(', ')})`);
    return names as ScenarioName[];
  };
  const p = argv.indexOf('--phases');
  const phases = p < 0 ? [...PHASES] : (argv[p + 1] ?? '').split(',').filter(Boolean);
  for (const phase of phases) if (!PHASES.includes(phase as Phase)) throw new Error(`--phases: unknown phase ${phase} (one of ${PHASES.join(', ')})`);
  return { quick: argv.includes('--quick'), only: list('--only'), profile: list('--profile'), phases: new Set(phases as Phase[]) };
}

/** `taskset -c <cpu>` when there are two cores or more and taskset works; else nothing. */
function pinning(): { server: string[]; load: string[] } {
  if (os.cpus().length < 2) return { server: [], load: [] };
  const probe = spawnSync('taskset', ['-c', '0', 'true']);
  if (probe.status !== 0) return { server: [], load: [] };
  const last = String(os.cpus().length - 1);
  return { server: ['taskset', '-c', '0'], load: ['taskset', '-c', last === '0' ? '1' : last] };
}

function startChild(prefix: string[], nodeArgs: string[], script: string, args: string[]): ChildProcess {
  const command = [...prefix, process.execPath, ...nodeArgs, join(here, script), ...args];
  return spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function waitReady<T>(child: ChildProcess, label: string, timeoutMs = 60_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: not ready after ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: { ready?: T; failed?: string }): void => {
      if (message.ready !== undefined) { clearTimeout(timer); child.off('message', onMessage); resolve(message.ready); }
      if (message.failed !== undefined) { clearTimeout(timer); child.off('message', onMessage); reject(new Error(`${label}: ${message.failed}`)); }
    };
    child.on('message', onMessage);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${label}: exited with ${code}`)); });
  });
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

interface RunningServer {
  name: ScenarioName;
  url: string;
  ipc: IpcClient;
  child: ChildProcess;
}

async function pollConnections(server: RunningServer, expected: number, deadlineMs = 60_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const open = await server.ipc.call<number>('connections');
    if (open === expected) return;
    if (Date.now() > end) throw new Error(`${server.name}: ${open} connections open, expected ${expected}`);
    await sleep(20);
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const settings = options.quick ? QUICK : FULL;
  const pin = pinning();
  const loadAtStart = os.loadavg();
  const started = Date.now();
  const redisUrl = process.env.REDIS_URL ?? ((await portAnswers(6379)) ? 'redis://127.0.0.1:6379' : undefined);
  const wanted = (options.only.length > 0 ? options.only : [...SCENARIOS]).filter((name) => name !== 'securedRedis' || redisUrl !== undefined);
  const skipped: Record<string, string> = {};
  if (redisUrl === undefined) skipped.securedRedis = 'no Redis (set REDIS_URL or run one on 127.0.0.1:6379)';
  console.log(`bench: ${options.quick ? 'quick' : 'full'}, ${settings.runs} run(s), scenarios ${wanted.join(', ')}; ` +
    `servers on ${pin.server.length > 0 ? 'cpu 0' : 'any cpu'}, load generator on ${pin.load.length > 0 ? `cpu ${pin.load[2]}` : 'any cpu'}; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`);

  const loadChild = startChild(pin.load, [], 'load.main.js', []);
  await waitReady<true>(loadChild, 'load generator');
  const load = new IpcClient(loadChild, 'load generator');
  const runs: Partial<Record<ScenarioName, RunFigures[]>> = {};
  let openRate: number | undefined;

  for (let run = 1; run <= settings.runs; run++) {
    const servers: RunningServer[] = [];
    for (const name of wanted) {
      // BENCH_NODE_ARGS: extra flags for the servers (e.g. --perf-basic-prof to read `perf record -C 0`).
      const nodeArgs = ['--expose-gc', ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), ...(options.profile.includes(name) ? ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${join(resultsDir, 'profiles')}`] : [])];
      const child = startChild(pin.server, nodeArgs, 'server.main.js', [name, ...(name === 'securedRedis' && redisUrl !== undefined ? [redisUrl] : [])]);
      try {
        const ready = await waitReady<ServerReady>(child, name);
        servers.push({ name, url: `http://127.0.0.1:${ready.port}`, ipc: new IpcClient(child, name), child });
      } catch (error) {
        skipped[name] = (error as Error).message;
        console.log(`  ${name}: not started (${(error as Error).message})`);
        child.kill();
      }
    }
    const figures = new Map<ScenarioName, RunFigures>(servers.map((s) => [s.name, {
      cpuUsPerMsg: NaN, msgsPerSec: NaN, p50Ms: NaN, p99Ms: NaN, handshakesPerSec: NaN, heapKbPerConn: NaN, rssKbPerConn: NaN,
      churnHeapRatio: NaN, loadCpuClosed: NaN, loadCpuOpen: NaN, loadCpuHandshakes: NaN, serverCpuClosed: NaN, userCpuUsPerMsg: NaN, cpuUsPerHandshake: NaN, serverCpuHandshakes: NaN, errors: [],
    }]));
    const note = (server: RunningServer, message: string): void => {
      figures.get(server.name)!.errors.push(message);
      console.log(`  ${server.name}: ${message}`);
    };

    // 1. Closed loop: N sockets, one ack in flight each; server CPU per message.
    for (const server of servers.filter(() => options.phases.has('closed'))) {
      const f = figures.get(server.name)!;
      const startedLoop = await load.call<{ failures: number }>('closedStart', { url: server.url, sockets: settings.closedSockets, prefix: `c${run}-` });
      if (startedLoop.failures > 0) note(server, `closed loop: ${startedLoop.failures} sockets refused`);
      await sleep(settings.closedWarmupMs);
      const s0 = await server.ipc.call<CpuSnapshot>('cpu');
      const l0 = await load.call<{ count: number; errors: number; cpu: CpuSnapshot }>('closedSnapshot');
      await sleep(settings.closedMeasureMs);
      const l1 = await load.call<{ count: number; errors: number; lastError: string; cpu: CpuSnapshot }>('closedSnapshot');
      const s1 = await server.ipc.call<CpuSnapshot>('cpu');
      await load.call('closedStop');
      const messages = l1.count - l0.count;
      if (l1.errors > 0) note(server, `closed loop: ${l1.errors} wrong acks, e.g. ${l1.lastError}`);
      f.cpuUsPerMsg = cpuUs(s0, s1) / messages;
      f.userCpuUsPerMsg = (s1.user - s0.user) / messages;
      f.msgsPerSec = (messages * 1000) / (l1.cpu.atMs - l0.cpu.atMs);
      f.loadCpuClosed = cpuUs(l0.cpu, l1.cpu) / 1000 / (l1.cpu.atMs - l0.cpu.atMs);
      f.serverCpuClosed = cpuUs(s0, s1) / 1000 / (s1.atMs - s0.atMs);
    }

    // 2. Open loop at one fixed rate for all: half the lowest closed-loop throughput of run 1.
    if (openRate === undefined) {
      const lowest = Math.min(...[...figures.values()].map((f) => f.msgsPerSec).filter((v) => Number.isFinite(v) && v > 0));
      openRate = Number.isFinite(lowest) ? Math.max(50, Math.floor((lowest * 0.5) / 50) * 50) : 100;
    }
    for (const server of servers.filter(() => options.phases.has('open'))) {
      const f = figures.get(server.name)!;
      const r = await load.call<{ p50Ms: number; p99Ms: number; samples: number; errors: number; lost: number; loadCpu: number; lastError: string }>('openLoop', {
        url: server.url, sockets: settings.openSockets, prefix: `o${run}-`, rate: openRate, warmupMs: settings.openWarmupMs, durationMs: settings.openMeasureMs,
      });
      if (r.errors > 0 || r.lost > 0) note(server, `open loop: ${r.errors} wrong acks, ${r.lost} lost, e.g. ${r.lastError}`);
      f.p50Ms = r.p50Ms;
      f.p99Ms = r.p99Ms;
      f.loadCpuOpen = r.loadCpu;
    }

    // 3. Handshakes with a fresh token each (a new user each time).
    for (const server of servers.filter(() => options.phases.has('handshakes'))) {
      const f = figures.get(server.name)!;
      await pollConnections(server, 0);
      const s0 = await server.ipc.call<CpuSnapshot>('cpu');
      const r = await load.call<{ perSec: number; count: number; failures: number; loadCpu: number; lastFailure: string }>('handshakes', {
        url: server.url, parallel: settings.handshakeParallel, durationMs: settings.handshakeMs, prefix: `h${run}-`, presign: Math.ceil(settings.handshakeMs * 3),
      });
      if (r.failures > 0) note(server, `handshakes: ${r.failures} failed, e.g. ${r.lastFailure}`);
      const s1 = await server.ipc.call<CpuSnapshot>('cpu');
      f.handshakesPerSec = r.perSec;
      f.loadCpuHandshakes = r.loadCpu;
      f.cpuUsPerHandshake = cpuUs(s0, s1) / r.count;
      f.serverCpuHandshakes = cpuUs(s0, s1) / 1000 / (s1.atMs - s0.atMs);
    }

    // 4. Memory per connection at several thousand connections, then ten connect/disconnect waves.
    for (const server of servers.filter(() => options.phases.has('memory'))) {
      const f = figures.get(server.name)!;
      await pollConnections(server, 0);
      const before = await server.ipc.call<MemorySnapshot>('mem');
      const held = await load.call<{ connected: number; failures: number; firstFailure: string }>('hold', { url: server.url, count: settings.memoryConnections, prefix: `m${run}-` });
      if (held.failures > 0) note(server, `memory: ${held.failures} refused, e.g. ${held.firstFailure}`);
      await pollConnections(server, held.connected);
      const after = await server.ipc.call<MemorySnapshot>('mem');
      f.heapKbPerConn = (after.heapUsed - before.heapUsed) / held.connected / 1024;
      f.rssKbPerConn = (after.rss - before.rss) / held.connected / 1024;
      await load.call('release');
      await pollConnections(server, 0);

      await sleep(settings.settleMs);
      const churnBefore = await server.ipc.call<MemorySnapshot>('mem');
      for (let wave = 0; wave < settings.churnWaves; wave++) {
        const w = await load.call<{ connected: number; failures: number; firstFailure: string }>('hold', { url: server.url, count: settings.churnConnections, prefix: `w${run}-` });
        if (w.failures > 0) note(server, `churn wave ${wave + 1}: ${w.failures} refused, e.g. ${w.firstFailure}`);
        await pollConnections(server, w.connected);
        await load.call('release');
        await pollConnections(server, 0);
      }
      await sleep(settings.settleMs);
      const churnAfter = await server.ipc.call<MemorySnapshot>('mem');
      f.churnHeapRatio = churnAfter.heapUsed / churnBefore.heapUsed;
    }

    for (const server of servers) {
      await server.ipc.call('stop').catch(() => undefined);
      await new Promise((resolve) => (server.child.exitCode !== null ? resolve(null) : server.child.once('exit', resolve)));
    }
    for (const [name, f] of figures) (runs[name] ??= []).push(f);
    console.log(`run ${run}/${settings.runs} done (${Math.round((Date.now() - started) / 1000)} s)`);
    printTable(Object.fromEntries([...figures].map(([name, f]) => [name, f])) as Partial<Record<ScenarioName, RunFigures>>, openRate);
  }
  await load.call('exit').catch(() => undefined);

  const loadAtEnd = os.loadavg();
  const medians = (name: ScenarioName): RunFigures | undefined => {
    const list = runs[name];
    if (list === undefined || list.length === 0) return undefined;
    const pick = (key: keyof RunFigures): number => median(list.map((r) => r[key] as number));
    return {
      cpuUsPerMsg: pick('cpuUsPerMsg'), msgsPerSec: pick('msgsPerSec'), p50Ms: pick('p50Ms'), p99Ms: pick('p99Ms'), handshakesPerSec: pick('handshakesPerSec'),
      heapKbPerConn: pick('heapKbPerConn'), rssKbPerConn: pick('rssKbPerConn'), churnHeapRatio: pick('churnHeapRatio'), loadCpuClosed: pick('loadCpuClosed'),
      loadCpuOpen: pick('loadCpuOpen'), loadCpuHandshakes: pick('loadCpuHandshakes'), serverCpuClosed: pick('serverCpuClosed'), userCpuUsPerMsg: pick('userCpuUsPerMsg'), cpuUsPerHandshake: pick('cpuUsPerHandshake'), serverCpuHandshakes: pick('serverCpuHandshakes'), errors: list.flatMap((r) => r.errors),
    };
  };
  const final = Object.fromEntries(wanted.map((name) => [name, medians(name)]).filter(([, m]) => m !== undefined)) as Partial<Record<ScenarioName, RunFigures>>;
  const num = (v: number | undefined, digits = 2): number | null => (v === undefined || !Number.isFinite(v) ? null : round(v, digits));
  const ratio = (a: number | undefined, b: number | undefined): number | null => (a === undefined || b === undefined ? null : num(a / b, 3));
  const cpu = os.cpus();
  const results: BenchResults = {
    date: new Date().toISOString(),
    machine: `${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown cpu'}, ${os.platform()} ${os.arch()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; ` +
      `servers pinned to cpu 0, load generator to cpu ${pin.load[2] ?? '(unpinned)'}; load average ${loadAtStart.map((l) => l.toFixed(2)).join('/')} at start, ` +
      `${loadAtEnd.map((l) => l.toFixed(2)).join('/')} at end; ${options.quick ? 'quick' : 'full'} run, median of ${settings.runs}`,
    node: process.version,
    scenarios: Object.fromEntries(Object.entries(final).map(([name, f]) => [name, {
      cpuUsPerMsg: num(f.cpuUsPerMsg, 1), msgsPerSec: num(f.msgsPerSec, 0), p50Ms: num(f.p50Ms, 3), p99Ms: num(f.p99Ms, 3),
      handshakesPerSec: num(f.handshakesPerSec, 0), heapKbPerConn: num(f.heapKbPerConn, 2), rssKbPerConn: num(f.rssKbPerConn, 2),
    } satisfies ScenarioResult])),
    ratios: {
      securedVsBareNestCpuPerMsg: ratio(final.secured?.cpuUsPerMsg, final.bareNest?.cpuUsPerMsg),
      securedVsNaiveMsgsPerSec: ratio(final.secured?.msgsPerSec, final.naive?.msgsPerSec),
      securedVsBareNestHandshakes: ratio(final.secured?.handshakesPerSec, final.bareNest?.handshakesPerSec),
      securedMinusBareNestHeapKbPerConn: final.secured !== undefined && final.bareNest !== undefined ? num(final.secured.heapKbPerConn - final.bareNest.heapKbPerConn, 2) : null,
      securedRedisVsSecuredHandshakes: ratio(final.securedRedis?.handshakesPerSec, final.secured?.handshakesPerSec),
    },
  };
  const details = {
    date: results.date,
    mode: options.quick ? 'quick' : 'full',
    settings,
    openLoopRatePerSec: openRate,
    skipped,
    medians: final,
    runs,
    notes: [
      'cpuUsPerMsg: server process CPU (user+system) during the closed loop divided by the acks received.',
      'loadCpu*: the load generator\'s own CPU as a fraction of one core; near 1.0 means it, not the server, set the pace.',
      'churnHeapRatio: heap after GC after the connect/disconnect waves over heap after GC before them.',
      'Wall time is not a measure here; all timings come from each process\'s own clock.',
    ],
  };
  mkdirSync(resultsDir, { recursive: true });
  // Only a full run of everything replaces the committed results (latest.*).
  const base = options.only.length > 0 || process.argv.includes('--phases') ? 'partial' : options.quick ? 'quick' : 'latest';
  writeFileSync(join(resultsDir, `${base}.json`), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(resultsDir, `${base}.details.json`), JSON.stringify(details, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  writeFileSync(join(resultsDir, `${base}.svg`), renderChart(results));
  console.log(`\nmedians of ${settings.runs} run(s), open-loop rate ${openRate} msgs/s:`);
  printTable(final, openRate);
  printTargets(results, final);
  console.log(`\nwrote bench/results/${base}.json, ${base}.details.json, ${base}.svg (${Math.round((Date.now() - started) / 1000)} s)`);
}

function printTable(figures: Partial<Record<ScenarioName, RunFigures>>, rate: number | undefined): void {
  const rows = Object.entries(figures).map(([name, f]) => [
    name, f.cpuUsPerMsg.toFixed(1), f.userCpuUsPerMsg.toFixed(1), f.msgsPerSec.toFixed(0), f.p50Ms.toFixed(2), f.p99Ms.toFixed(2), f.handshakesPerSec.toFixed(0),
    f.heapKbPerConn.toFixed(2), f.rssKbPerConn.toFixed(2), f.churnHeapRatio.toFixed(3),
    `${f.loadCpuClosed.toFixed(2)}/${f.loadCpuOpen.toFixed(2)}/${f.loadCpuHandshakes.toFixed(2)}`, `${f.serverCpuClosed.toFixed(2)}/${f.serverCpuHandshakes.toFixed(2)}`,
    f.cpuUsPerHandshake.toFixed(0),
  ]);
  const head = ['scenario', 'cpu µs/msg', 'user µs/msg', 'msgs/s', `p50 ms@${rate ?? '?'}/s`, 'p99 ms', 'handshakes/s', 'heap KB/conn', 'rss KB/conn', 'churn heap', 'loadgen cpu c/o/h', 'server cpu c/h', 'cpu µs/handshake'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(head));
  for (const row of rows) console.log(line(row));
}

function printTargets(results: BenchResults, final: Partial<Record<ScenarioName, RunFigures>>): void {
  const r = results.ratios;
  const check = (label: string, value: number | null, ok: (v: number) => boolean, target: string): void => {
    console.log(`  ${value === null || !Number.isFinite(value) ? 'n/a ' : ok(value) ? 'met ' : 'MISS'}  ${label}: ${value ?? 'n/a'} (target ${target})`);
  };
  console.log('\ntargets:');
  check('secured vs bareNest CPU per message', r.securedVsBareNestCpuPerMsg, (v) => v <= 1.15, '<= 1.15x');
  check('secured vs naive throughput', r.securedVsNaiveMsgsPerSec, (v) => v >= 1.5, '>= 1.5x');
  check('secured vs bareNest handshakes/s', r.securedVsBareNestHandshakes, (v) => v >= 0.9, '>= 0.9x');
  check('secured minus bareNest heap KB/conn', r.securedMinusBareNestHeapKbPerConn, (v) => v <= 2, '<= 2 KB');
  check('secured heap after churn vs before', final.secured !== undefined ? round(final.secured.churnHeapRatio, 3) : null, (v) => v <= 1.05, '<= 1.05');
  check('securedRedis vs secured handshakes/s', r.securedRedisVsSecuredHandshakes, (v) => v >= 0.75, '>= 0.75x');
}

main().then(
  () => process.exit(0),
  (error: unknown) => { console.error(error); process.exit(1); },
);
