/**
 * `npm run bench [-- --quick] [--only raw,secured] [--phases closed,handshakes,open,memory,dispatch] [--profile secured]`
 * (`--profile` adds `--cpu-prof` to those servers; profiles go to bench/results/profiles/, not committed)
 *
 * The same echo workload (`{ channelId, text }` with an ack) against raw Socket.IO, a bare Nest
 * gateway (also with no-op guard, pipe and filter: Nest's floor), the tutorial stack, a hand-tuned
 * rival and this library (in memory, and in cluster mode on Redis). Every server runs in its own
 * process, all pinned to CPU 0; the load generator runs in another, pinned to CPU 1.
 *
 * Method: a process gets its own speed factor for its whole life (up to 1.5x here, unrelated to
 * the code), and the machine's speed drifts, so per-message CPU and handshakes are measured in
 * rounds. Each round measures every scenario once, in an order rotated round by round, and the
 * ratios to bareNest are taken within the round; every server is restarted (in a rotated start
 * order) each `roundsPerGeneration` rounds, so no scenario keeps one process's factor. The report
 * gives the median of the per-round ratios with their spread. An in-process micro-bench
 * (bench/dispatch.main.ts: every Nest scenario in one process) times the handler callback Nest
 * builds, in nanoseconds, interleaved the same way. Writes bench/results/latest.json,
 * latest.details.json (every round) and latest.svg; a --quick run writes quick.*, a partial one
 * (--only, --phases) partial.*; neither is committed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderChart } from './chart.js';
import { IpcClient } from './support/ipc.js';
import { SCENARIOS, type CpuSnapshot, type DispatchOnlyScenario, type MemorySnapshot, type ScenarioName, type ServerReady } from './support/protocol.js';
import { median, round } from './support/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
/** bench/ in the source tree (this file runs from dist-bench/bench/). */
const benchDir = join(here, '..', '..', 'bench');
const resultsDir = join(benchDir, 'results');

interface Settings {
  /** Rounds of the closed loop and of handshakes (each round measures every scenario once). */
  rounds: number;
  /** Rounds measured by one set of server processes, before all are started again. */
  roundsPerGeneration: number;
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
  dispatchRounds: number;
  dispatchBatchMs: number;
}

const QUICK: Settings = {
  rounds: 4, roundsPerGeneration: 2, closedSockets: 32, closedWarmupMs: 300, closedMeasureMs: 600, openSockets: 16, openWarmupMs: 300, openMeasureMs: 1000,
  handshakeParallel: 32, handshakeMs: 600, memoryConnections: 400, churnWaves: 10, churnConnections: 60, settleMs: 2100, dispatchRounds: 8, dispatchBatchMs: 100,
};
const FULL: Settings = {
  rounds: 20, roundsPerGeneration: 2, closedSockets: 64, closedWarmupMs: 500, closedMeasureMs: 1500, openSockets: 64, openWarmupMs: 1000, openMeasureMs: 4000,
  handshakeParallel: 64, handshakeMs: 1500, memoryConnections: 2000, churnWaves: 10, churnConnections: 200, settleMs: 2500, dispatchRounds: 20, dispatchBatchMs: 250,
};

/** One scenario's figures: closed-loop and handshake ones per round, the others once. */
interface RoundFigures {
  cpuUsPerMsg: number;
  /** Server user-mode CPU µs per message (cpuUsPerMsg without the kernel's share: syscalls, wake-ups). */
  userCpuUsPerMsg: number;
  msgsPerSec: number;
  loadCpuClosed: number;
  serverCpuClosed: number;
  handshakesPerSec: number;
  /** Server CPU µs per handshake, connect and disconnect (robust to a busy machine, unlike handshakes/s). */
  cpuUsPerHandshake: number;
  loadCpuHandshakes: number;
  serverCpuHandshakes: number;
}

interface OnceFigures {
  p50Ms: number;
  p99Ms: number;
  loadCpuOpen: number;
  heapKbPerConn: number;
  rssKbPerConn: number;
  churnHeapRatio: number;
}

const METRICS = ['cpuUsPerMsg', 'msgsPerSec', 'p50Ms', 'p99Ms', 'handshakesPerSec', 'heapKbPerConn', 'rssKbPerConn'] as const;
type Metric = (typeof METRICS)[number];
export type ScenarioResult = Record<Metric, number | null>;

/** The spread of a per-round ratio over the rounds. */
export interface Spread {
  p25: number | null;
  p75: number | null;
  min: number | null;
  max: number | null;
  rounds: number;
}

const RATIO_KEYS = [
  'securedVsBareNestCpuPerMsg', 'securedVsNaiveMsgsPerSec', 'securedVsBareNestHandshakes', 'securedMinusBareNestHeapKbPerConn', 'securedRedisVsSecuredHandshakes',
  'securedVsTunedMsgsPerSec', 'securedVsTunedHandshakes', 'floorVsBareNestCpuPerMsg', 'securedVsFloorCpuPerMsg', 'tunedVsBareNestCpuPerMsg',
] as const;
type RatioKey = (typeof RATIO_KEYS)[number];

export interface BenchResults {
  date: string;
  machine: string;
  node: string;
  method: string;
  scenarios: Partial<Record<ScenarioName, ScenarioResult>>;
  /** Medians of the per-round ratios (heap: one memory phase). */
  ratios: Record<RatioKey, number | null>;
  spreads: Partial<Record<RatioKey, Spread>>;
  /** In-process dispatch, ns per message (median over rounds), and the differences that matter. */
  inProcess: {
    nsPerDispatch: Partial<Record<ScenarioName | DispatchOnlyScenario, number | null>>;
    nestFloorNs: { median: number | null; spread: Spread } | null;
    libraryNsOverFloor: { median: number | null; spread: Spread } | null;
    /** `secured` minus `securedNoValidation`: WsValidationPipe on the echo DTO, beyond a no-op pipe. */
    validationNs: { median: number | null; spread: Spread } | null;
    /** `securedNoValidation` minus Nest's floor: every other step of the library's message path. */
    libraryWithoutValidationNsOverFloor: { median: number | null; spread: Spread } | null;
  } | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const cpuUs = (a: CpuSnapshot, b: CpuSnapshot): number => b.user - a.user + b.system - a.system;

const PHASES = ['closed', 'handshakes', 'open', 'memory', 'dispatch'] as const;
type Phase = (typeof PHASES)[number];
/** Nest scenarios the in-process bench hosts (securedRedis waits on Redis per message: not a dispatch figure). */
const DISPATCH_SCENARIOS: readonly ScenarioName[] = ['bareNest', 'bareNestNoopGuardPipe', 'naive', 'tuned', 'secured'];

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

/** The order of round `round`: the scenarios rotated by one each round, so no scenario always goes first. */
const rotated = <T>(list: readonly T[], round: number): T[] => list.map((_, i) => list[(i + round) % list.length]!);

function spreadOf(values: readonly number[]): Spread {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const at = (q: number): number | null => (sorted.length === 0 ? null : round(sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]!, 3));
  return { p25: at(0.25), p75: at(0.75), min: at(0), max: at(1), rounds: sorted.length };
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
  console.log(`bench: ${options.quick ? 'quick' : 'full'}, ${settings.rounds} rounds, scenarios ${wanted.join(', ')}; ` +
    `servers on ${pin.server.length > 0 ? 'cpu 0' : 'any cpu'}, load generator on ${pin.load.length > 0 ? `cpu ${pin.load[2]}` : 'any cpu'}; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`);

  const loadChild = startChild(pin.load, [], 'load.main.js', []);
  await waitReady<true>(loadChild, 'load generator');
  const load = new IpcClient(loadChild, 'load generator');

  /**
   * Every scenario's server is up for a generation of rounds; then all are stopped and started
   * again, in a rotated start order. A process keeps its own speed factor for its whole life (up to
   * 1.5x here, unrelated to the code): over several generations no scenario keeps one.
   */
  const startServers = async (generation: number): Promise<RunningServer[]> => {
    const started: RunningServer[] = [];
    for (const name of rotated(wanted, generation)) {
      if (skipped[name] !== undefined) continue;
      // BENCH_NODE_ARGS: extra flags for the servers (e.g. --perf-basic-prof to read `perf record -C 0`).
      const nodeArgs = ['--expose-gc', ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean), ...(options.profile.includes(name) ? ['--cpu-prof', '--cpu-prof-interval=100', `--cpu-prof-dir=${join(resultsDir, 'profiles')}`] : [])];
      const child = startChild(pin.server, nodeArgs, 'server.main.js', [name, ...(name === 'securedRedis' && redisUrl !== undefined ? [redisUrl] : [])]);
      try {
        const ready = await waitReady<ServerReady>(child, name);
        started.push({ name, url: `http://127.0.0.1:${ready.port}`, ipc: new IpcClient(child, name), child });
      } catch (error) {
        skipped[name] = (error as Error).message;
        console.log(`  ${name}: not started (${(error as Error).message})`);
        child.kill();
      }
    }
    // Measured in the scenarios' own order (rotated per round), whatever the start order.
    return wanted.flatMap((name) => started.filter((server) => server.name === name));
  };
  const stopServers = async (list: readonly RunningServer[]): Promise<void> => {
    for (const server of list) {
      await server.ipc.call('stop').catch(() => undefined);
      await new Promise((resolve) => (server.child.exitCode !== null ? resolve(null) : server.child.once('exit', resolve)));
    }
  };
  let servers: RunningServer[] = [];
  const errors: string[] = [];
  const note = (server: RunningServer, message: string): void => {
    errors.push(`${server.name}: ${message}`);
    console.log(`  ${server.name}: ${message}`);
  };
  const rounds: Partial<Record<ScenarioName, RoundFigures>>[] = [];
  const blank = (): RoundFigures => ({ cpuUsPerMsg: NaN, userCpuUsPerMsg: NaN, msgsPerSec: NaN, loadCpuClosed: NaN, serverCpuClosed: NaN, handshakesPerSec: NaN, cpuUsPerHandshake: NaN, loadCpuHandshakes: NaN, serverCpuHandshakes: NaN });

  const measuresRounds = options.phases.has('closed') || options.phases.has('handshakes');
  for (let r = 0; r < settings.rounds; r++) {
    if (r % settings.roundsPerGeneration === 0 && (measuresRounds || r === 0)) {
      await stopServers(servers);
      servers = await startServers(r / settings.roundsPerGeneration);
    }
    const figures: Partial<Record<ScenarioName, RoundFigures>> = {};
    for (const server of servers) figures[server.name] = blank();
    const order = rotated(servers, r);
    // 1. Closed loop: N sockets, one ack in flight each; server CPU per message.
    if (options.phases.has('closed')) for (const server of order) {
      const f = figures[server.name]!;
      const startedLoop = await load.call<{ failures: number }>('closedStart', { url: server.url, sockets: settings.closedSockets, prefix: `c${r}-` });
      if (startedLoop.failures > 0) note(server, `closed loop: ${startedLoop.failures} sockets refused`);
      await sleep(settings.closedWarmupMs);
      const s0 = await server.ipc.call<CpuSnapshot>('cpu');
      const l0 = await load.call<{ count: number; errors: number; cpu: CpuSnapshot }>('closedSnapshot');
      await sleep(settings.closedMeasureMs);
      const l1 = await load.call<{ count: number; errors: number; lastError: string; cpu: CpuSnapshot }>('closedSnapshot');
      const s1 = await server.ipc.call<CpuSnapshot>('cpu');
      await load.call('closedStop');
      await pollConnections(server, 0);
      const messages = l1.count - l0.count;
      if (l1.errors > 0) note(server, `closed loop: ${l1.errors} wrong acks, e.g. ${l1.lastError}`);
      f.cpuUsPerMsg = cpuUs(s0, s1) / messages;
      f.userCpuUsPerMsg = (s1.user - s0.user) / messages;
      f.msgsPerSec = (messages * 1000) / (l1.cpu.atMs - l0.cpu.atMs);
      f.loadCpuClosed = cpuUs(l0.cpu, l1.cpu) / 1000 / (l1.cpu.atMs - l0.cpu.atMs);
      f.serverCpuClosed = cpuUs(s0, s1) / 1000 / (s1.atMs - s0.atMs);
    }
    // 2. Handshakes with a fresh token each (a new user each time); the server's CPU until every disconnect is done.
    if (options.phases.has('handshakes')) for (const server of order) {
      const f = figures[server.name]!;
      const s0 = await server.ipc.call<CpuSnapshot>('cpu');
      const result = await load.call<{ perSec: number; count: number; failures: number; loadCpu: number; lastFailure: string }>('handshakes', {
        url: server.url, parallel: settings.handshakeParallel, durationMs: settings.handshakeMs, prefix: `h${r}-`, presign: Math.ceil(settings.handshakeMs * 3),
      });
      await pollConnections(server, 0);
      const s1 = await server.ipc.call<CpuSnapshot>('cpu');
      if (result.failures > 0) note(server, `handshakes: ${result.failures} failed, e.g. ${result.lastFailure}`);
      f.handshakesPerSec = result.perSec;
      f.loadCpuHandshakes = result.loadCpu;
      f.cpuUsPerHandshake = cpuUs(s0, s1) / result.count;
      f.serverCpuHandshakes = cpuUs(s0, s1) / 1000 / (s1.atMs - s0.atMs);
    }
    rounds.push(figures);
    if (options.phases.has('closed') || options.phases.has('handshakes')) {
      console.log(`round ${r + 1}/${settings.rounds} (${Math.round((Date.now() - started) / 1000)} s): ` + order.map((s) => {
        const f = figures[s.name]!;
        return `${s.name} ${f.cpuUsPerMsg.toFixed(1)} µs/msg ${f.handshakesPerSec.toFixed(0)} hs/s`;
      }).join(', '));
    }
  }

  // 3. Open loop at one fixed rate for all: half the lowest median closed-loop throughput.
  const medianOf = (name: ScenarioName, key: keyof RoundFigures): number => median(rounds.map((f) => f[name]?.[key] ?? NaN));
  const lowest = Math.min(...servers.map((s) => medianOf(s.name, 'msgsPerSec')).filter((v) => Number.isFinite(v) && v > 0));
  const openRate = Number.isFinite(lowest) ? Math.max(50, Math.floor((lowest * 0.5) / 50) * 50) : 100;
  const once = new Map<ScenarioName, OnceFigures>(servers.map((s) => [s.name, { p50Ms: NaN, p99Ms: NaN, loadCpuOpen: NaN, heapKbPerConn: NaN, rssKbPerConn: NaN, churnHeapRatio: NaN }]));
  if (options.phases.has('open')) for (const server of servers) {
    const f = once.get(server.name)!;
    const result = await load.call<{ p50Ms: number; p99Ms: number; samples: number; errors: number; lost: number; loadCpu: number; lastError: string }>('openLoop', {
      url: server.url, sockets: settings.openSockets, prefix: 'o-', rate: openRate, warmupMs: settings.openWarmupMs, durationMs: settings.openMeasureMs,
    });
    if (result.errors > 0 || result.lost > 0) note(server, `open loop: ${result.errors} wrong acks, ${result.lost} lost, e.g. ${result.lastError}`);
    f.p50Ms = result.p50Ms;
    f.p99Ms = result.p99Ms;
    f.loadCpuOpen = result.loadCpu;
  }

  // 4. Memory per connection at several thousand connections, then connect/disconnect waves.
  if (options.phases.has('memory')) for (const server of servers) {
    const f = once.get(server.name)!;
    await pollConnections(server, 0);
    const before = await server.ipc.call<MemorySnapshot>('mem');
    const held = await load.call<{ connected: number; failures: number; firstFailure: string }>('hold', { url: server.url, count: settings.memoryConnections, prefix: 'm-' });
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
      const w = await load.call<{ connected: number; failures: number; firstFailure: string }>('hold', { url: server.url, count: settings.churnConnections, prefix: 'w-' });
      if (w.failures > 0) note(server, `churn wave ${wave + 1}: ${w.failures} refused, e.g. ${w.firstFailure}`);
      await pollConnections(server, w.connected);
      await load.call('release');
      await pollConnections(server, 0);
    }
    await sleep(settings.settleMs);
    const churnAfter = await server.ipc.call<MemorySnapshot>('mem');
    f.churnHeapRatio = churnAfter.heapUsed / churnBefore.heapUsed;
  }

  await stopServers(servers);
  await load.call('exit').catch(() => undefined);

  // 5. In-process dispatch: every Nest scenario in one process, timed in rotated rounds.
  const dispatchScenarios: string[] = DISPATCH_SCENARIOS.filter((name) => wanted.includes(name));
  if (wanted.includes('secured')) dispatchScenarios.push('securedNoValidation');
  let dispatch: Record<string, number[]> | undefined;
  if (options.phases.has('dispatch') && dispatchScenarios.length > 0) {
    const child = startChild(pin.server, ['--expose-gc'], 'dispatch.main.js', [String(settings.dispatchRounds), String(settings.dispatchBatchMs), dispatchScenarios.join(',')]);
    dispatch = await waitReady<Record<string, number[]>>(child, 'dispatch bench', 300_000);
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
  }

  const loadAtEnd = os.loadavg();
  const num = (v: number | undefined, digits = 2): number | null => (v === undefined || !Number.isFinite(v) ? null : round(v, digits));
  /** Per-round ratios a/b of one measure, for the rounds where both were measured. */
  const perRound = (a: ScenarioName, b: ScenarioName, key: keyof RoundFigures): number[] =>
    rounds.map((f) => (f[a]?.[key] ?? NaN) / (f[b]?.[key] ?? NaN)).filter((v) => Number.isFinite(v));
  const ratioSpecs: Partial<Record<RatioKey, [ScenarioName, ScenarioName, keyof RoundFigures]>> = {
    securedVsBareNestCpuPerMsg: ['secured', 'bareNest', 'cpuUsPerMsg'],
    securedVsNaiveMsgsPerSec: ['secured', 'naive', 'msgsPerSec'],
    securedVsBareNestHandshakes: ['secured', 'bareNest', 'handshakesPerSec'],
    securedRedisVsSecuredHandshakes: ['securedRedis', 'secured', 'handshakesPerSec'],
    securedVsTunedMsgsPerSec: ['secured', 'tuned', 'msgsPerSec'],
    securedVsTunedHandshakes: ['secured', 'tuned', 'handshakesPerSec'],
    floorVsBareNestCpuPerMsg: ['bareNestNoopGuardPipe', 'bareNest', 'cpuUsPerMsg'],
    securedVsFloorCpuPerMsg: ['secured', 'bareNestNoopGuardPipe', 'cpuUsPerMsg'],
    tunedVsBareNestCpuPerMsg: ['tuned', 'bareNest', 'cpuUsPerMsg'],
  };
  const ratios = Object.fromEntries(RATIO_KEYS.map((key) => [key, null])) as Record<RatioKey, number | null>;
  const spreads: Partial<Record<RatioKey, Spread>> = {};
  for (const [key, [a, b, measure]] of Object.entries(ratioSpecs) as [RatioKey, [ScenarioName, ScenarioName, keyof RoundFigures]][]) {
    const values = perRound(a, b, measure);
    if (values.length === 0) continue;
    ratios[key] = num(median(values), 3);
    spreads[key] = spreadOf(values);
  }
  const heap = (name: ScenarioName): number | undefined => once.get(name)?.heapKbPerConn;
  ratios.securedMinusBareNestHeapKbPerConn = heap('secured') !== undefined && heap('bareNest') !== undefined ? num(heap('secured')! - heap('bareNest')!, 2) : null;

  const differences = (a: string, b: string): number[] | undefined => {
    const x = dispatch?.[a];
    const y = dispatch?.[b];
    return x === undefined || y === undefined ? undefined : x.map((v, i) => v - y[i]!);
  };
  const summary = (values: number[] | undefined): { median: number | null; spread: Spread } | null =>
    (values === undefined ? null : { median: num(median(values), 0), spread: spreadOf(values.map((v) => Math.round(v))) });
  const cpu = os.cpus();
  const results: BenchResults = {
    date: new Date().toISOString(),
    machine: `${cpu.length} x ${cpu[0]?.model.trim() ?? 'unknown cpu'}, ${os.platform()} ${os.arch()}, ${Math.round(os.totalmem() / 2 ** 30)} GiB; ` +
      `servers pinned to cpu 0, load generator to cpu ${pin.load[2] ?? '(unpinned)'}; load average ${loadAtStart.map((l) => l.toFixed(2)).join('/')} at start, ` +
      `${loadAtEnd.map((l) => l.toFixed(2)).join('/')} at end; ${options.quick ? 'quick' : 'full'} run`,
    node: process.version,
    method: `${settings.rounds} rounds, each measuring every scenario once in a rotated order; every server restarted (start order rotated) each ${settings.roundsPerGeneration} rounds, so no scenario keeps one process's speed factor (closed loop ${settings.closedMeasureMs} ms, handshakes ${settings.handshakeMs} ms); ` +
      `ratios are medians of the per-round ratios, spread p25/p75/min/max; absolutes are medians over rounds; open loop and memory measured once; ` +
      `in-process dispatch: ${settings.dispatchRounds} rotated rounds of ${settings.dispatchBatchMs} ms per scenario in one process`,
    scenarios: Object.fromEntries(servers.map((s) => {
      const o = once.get(s.name)!;
      return [s.name, {
        cpuUsPerMsg: num(medianOf(s.name, 'cpuUsPerMsg'), 1), msgsPerSec: num(medianOf(s.name, 'msgsPerSec'), 0), p50Ms: num(o.p50Ms, 3), p99Ms: num(o.p99Ms, 3),
        handshakesPerSec: num(medianOf(s.name, 'handshakesPerSec'), 0), heapKbPerConn: num(o.heapKbPerConn, 2), rssKbPerConn: num(o.rssKbPerConn, 2),
      } satisfies ScenarioResult];
    })),
    ratios,
    spreads,
    inProcess: dispatch === undefined ? null : {
      nsPerDispatch: Object.fromEntries(Object.entries(dispatch).map(([name, values]) => [name, num(median(values), 0)])),
      nestFloorNs: summary(differences('bareNestNoopGuardPipe', 'bareNest')),
      libraryNsOverFloor: summary(differences('secured', 'bareNestNoopGuardPipe')),
      validationNs: summary(differences('secured', 'securedNoValidation')),
      libraryWithoutValidationNsOverFloor: summary(differences('securedNoValidation', 'bareNestNoopGuardPipe')),
    },
  };
  const medianFigures = Object.fromEntries(servers.map((s) => [s.name, {
    ...Object.fromEntries((Object.keys(blank()) as (keyof RoundFigures)[]).map((key) => [key, medianOf(s.name, key)])),
    ...once.get(s.name)!,
  }])) as Partial<Record<ScenarioName, RoundFigures & OnceFigures>>;
  const details = {
    date: results.date,
    mode: options.quick ? 'quick' : 'full',
    settings,
    openLoopRatePerSec: openRate,
    skipped,
    errors,
    medians: medianFigures,
    rounds,
    dispatchNsPerRound: dispatch ?? null,
    notes: [
      'cpuUsPerMsg: server process CPU (user+system) during the closed loop divided by the acks received.',
      'cpuUsPerHandshake: server process CPU from the first handshake until every connection of the phase was closed, divided by the handshakes.',
      'loadCpu*: the load generator\'s own CPU as a fraction of one core; near 1.0 means it, not the server, set the pace.',
      'churnHeapRatio: heap after GC after the connect/disconnect waves over heap after GC before them.',
      'dispatchNsPerRound: wall ns per message of the handler callback Nest builds, driven on a real server-side socket, one process for every scenario.',
    ],
  };
  mkdirSync(resultsDir, { recursive: true });
  // Only a full run of everything replaces the committed results (latest.*).
  const base = options.only.length > 0 || process.argv.includes('--phases') ? 'partial' : options.quick ? 'quick' : 'latest';
  writeFileSync(join(resultsDir, `${base}.json`), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(resultsDir, `${base}.details.json`), JSON.stringify(details, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  writeFileSync(join(resultsDir, `${base}.svg`), renderChart(results));
  console.log(`\nmedians of ${settings.rounds} round(s), open-loop rate ${openRate} msgs/s:`);
  printTable(medianFigures, openRate);
  if (results.inProcess !== null) {
    console.log(`\nin-process dispatch, ns per message (median of ${settings.dispatchRounds} rounds): ` +
      Object.entries(results.inProcess.nsPerDispatch).map(([name, ns]) => `${name} ${ns}`).join(', '));
    console.log(`  Nest's floor (no-op guard, pipe, filter) over bareNest: ${results.inProcess.nestFloorNs?.median ?? 'n/a'} ns; secured over the floor: ${results.inProcess.libraryNsOverFloor?.median ?? 'n/a'} ns ` +
      `(validation ${results.inProcess.validationNs?.median ?? 'n/a'} ns, every other step ${results.inProcess.libraryWithoutValidationNsOverFloor?.median ?? 'n/a'} ns)`);
  }
  printTargets(results, medianFigures);
  console.log(`\nwrote bench/results/${base}.json, ${base}.details.json, ${base}.svg (${Math.round((Date.now() - started) / 1000)} s)`);
}

function printTable(figures: Partial<Record<ScenarioName, RoundFigures & OnceFigures>>, rate: number | undefined): void {
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

function printTargets(results: BenchResults, final: Partial<Record<ScenarioName, RoundFigures & OnceFigures>>): void {
  const r = results.ratios;
  const check = (label: string, value: number | null, ok: (v: number) => boolean, target: string): void => {
    console.log(`  ${value === null || !Number.isFinite(value) ? 'n/a ' : ok(value) ? 'met ' : 'MISS'}  ${label}: ${value ?? 'n/a'} (target ${target})`);
  };
  const spread = (key: RatioKey): string => {
    const x = results.spreads[key];
    return x === undefined ? '' : `, p25-p75 ${x.p25}-${x.p75}, min-max ${x.min}-${x.max} over ${x.rounds} rounds`;
  };
  console.log('\ntargets (medians of per-round ratios):');
  check(`secured vs bareNest CPU per message${spread('securedVsBareNestCpuPerMsg')}`, r.securedVsBareNestCpuPerMsg, (v) => v <= 1.1, '<= 1.1x');
  check(`secured vs tuned throughput${spread('securedVsTunedMsgsPerSec')}`, r.securedVsTunedMsgsPerSec, (v) => v >= 1.2, '>= 1.2x');
  check(`secured vs naive throughput${spread('securedVsNaiveMsgsPerSec')}`, r.securedVsNaiveMsgsPerSec, (v) => v >= 1.5, '>= 1.5x');
  check(`secured vs bareNest handshakes/s${spread('securedVsBareNestHandshakes')}`, r.securedVsBareNestHandshakes, (v) => v >= 0.9, '>= 0.9x');
  check(`securedRedis vs secured handshakes/s${spread('securedRedisVsSecuredHandshakes')}`, r.securedRedisVsSecuredHandshakes, (v) => v >= 0.8, '>= 0.8x');
  check('secured minus bareNest heap KB/conn', r.securedMinusBareNestHeapKbPerConn, (v) => v <= 2, '<= 2 KB');
  check('secured heap after churn vs before', final.secured !== undefined ? round(final.secured.churnHeapRatio, 3) : null, (v) => v <= 1.05, '<= 1.05');
  const library = results.inProcess?.libraryNsOverFloor?.median ?? null;
  check('in-process: secured over Nest\'s floor, ns per message', library, (v) => v <= 1000, '<= 1000 ns');
}

main().then(
  () => process.exit(0),
  (error: unknown) => { console.error(error); process.exit(1); },
);
