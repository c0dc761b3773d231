/**
 * `npm run bench:metrics [-- --quick]`: the cost of the library's metrics, on (the real
 * OpenTelemetry SDK with a Prometheus reader collecting every second) against off
 * (`metrics.enabled: false`), in one interleaved run: the two servers run side by side (pinned to
 * CPU 0 like the main bench's, the load generator to the last CPU) and take turns, round after
 * round, in alternating order, so a busy machine weighs on both alike. Reports server CPU µs per
 * message (closed loop, one ack in flight per socket) and per handshake (connect with a fresh
 * token, disconnect), and the on/off ratios of the medians. Writes bench/results/metrics.json
 * (bench/results/quick.metrics.json, not committed, for --quick).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpcClient } from '../support/ipc.js';
import type { CpuSnapshot, ServerReady } from '../support/protocol.js';
import { median, round } from '../support/stats.js';
import { measureHookCost } from './hook-cost.js';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, '..', '..', '..', 'bench', 'results');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const cpuUs = (a: CpuSnapshot, b: CpuSnapshot): number => b.user - a.user + b.system - a.system;

const QUICK = { rounds: 2, sockets: 32, warmupMs: 500, measureMs: 1500, handshakeParallel: 32, handshakeMs: 1500 };
const FULL = { rounds: 4, sockets: 64, warmupMs: 1000, measureMs: 2500, handshakeParallel: 64, handshakeMs: 2000 };

type Mode = 'off' | 'on';

interface Server {
  mode: Mode;
  url: string;
  ipc: IpcClient;
  child: ChildProcess;
}

function pinning(): { server: string[]; load: string[] } {
  if (os.cpus().length < 2 || spawnSync('taskset', ['-c', '0', 'true']).status !== 0) return { server: [], load: [] };
  return { server: ['taskset', '-c', '0'], load: ['taskset', '-c', String(os.cpus().length - 1)] };
}

function start(prefix: string[], nodeArgs: string[], script: string, args: string[]): ChildProcess {
  const command = [...prefix, process.execPath, ...nodeArgs, join(here, script), ...args];
  return spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function ready<T>(child: ChildProcess, label: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label}: not ready after 60 s`)), 60_000);
    child.on('message', (message: { ready?: T; failed?: string }) => {
      if (message.ready !== undefined) { clearTimeout(timer); resolve(message.ready); }
      if (message.failed !== undefined) { clearTimeout(timer); reject(new Error(`${label}: ${message.failed}`)); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${label}: exited with ${code}`)); });
  });
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const s = quick ? QUICK : FULL;
  const pin = pinning();
  const loadAtStart = os.loadavg();
  const loadChild = start(pin.load, [], '../load.main.js', []);
  await ready<true>(loadChild, 'load generator');
  const load = new IpcClient(loadChild, 'load generator');
  const servers: Server[] = [];
  for (const mode of ['off', 'on'] as Mode[]) {
    const child = start(pin.server, ['--expose-gc'], 'metrics-server.main.js', [mode]);
    const { port } = await ready<ServerReady>(child, `metrics ${mode}`);
    servers.push({ mode, url: `http://127.0.0.1:${port}`, ipc: new IpcClient(child, `metrics ${mode}`), child });
  }
  console.log(`bench:metrics: ${quick ? 'quick' : 'full'}, ${s.rounds} interleaved rounds; load average ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}`);
  const perMsg: Record<Mode, number[]> = { off: [], on: [] };
  const perHandshake: Record<Mode, number[]> = { off: [], on: [] };
  for (let round = 1; round <= s.rounds; round += 1) {
    const order = round % 2 === 1 ? servers : [...servers].reverse();
    for (const server of order) {
      const opened = await load.call<{ failures: number }>('closedStart', { url: server.url, sockets: s.sockets, prefix: `m${round}${server.mode}-` });
      if (opened.failures > 0) console.log(`  ${server.mode}: ${opened.failures} sockets refused`);
      await sleep(s.warmupMs);
      const c0 = await server.ipc.call<CpuSnapshot>('cpu');
      const l0 = await load.call<{ count: number }>('closedSnapshot');
      await sleep(s.measureMs);
      const l1 = await load.call<{ count: number; errors: number; lastError: string }>('closedSnapshot');
      const c1 = await server.ipc.call<CpuSnapshot>('cpu');
      await load.call('closedStop');
      if (l1.errors > 0) console.log(`  ${server.mode}: ${l1.errors} wrong acks, e.g. ${l1.lastError}`);
      perMsg[server.mode].push(cpuUs(c0, c1) / (l1.count - l0.count));
    }
    for (const server of order) {
      const h0 = await server.ipc.call<CpuSnapshot>('cpu');
      const r = await load.call<{ count: number; failures: number; lastFailure: string }>('handshakes', {
        url: server.url, parallel: s.handshakeParallel, durationMs: s.handshakeMs, prefix: `h${round}${server.mode}-`, presign: Math.ceil(s.handshakeMs * 3),
      });
      const h1 = await server.ipc.call<CpuSnapshot>('cpu');
      if (r.failures > 0) console.log(`  ${server.mode}: ${r.failures} handshakes failed, e.g. ${r.lastFailure}`);
      perHandshake[server.mode].push(cpuUs(h0, h1) / r.count);
    }
    console.log(`  round ${round}: µs/msg off ${round2(perMsg.off.at(-1))} on ${round2(perMsg.on.at(-1))}; µs/handshake off ${round2(perHandshake.off.at(-1))} on ${round2(perHandshake.on.at(-1))}`);
  }
  const on = servers.find((x) => x.mode === 'on')!;
  const scrape = await on.ipc.call<string>('scrape');
  const series = scrape.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
  for (const server of servers) await server.ipc.call('stop').catch(() => undefined);
  await load.call('exit').catch(() => undefined);
  const result = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}; load average at start ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}, at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    node: process.version,
    rounds: s.rounds,
    cpuUsPerMsg: { off: round(median(perMsg.off)), on: round(median(perMsg.on)), runs: { off: perMsg.off.map((v) => round(v)), on: perMsg.on.map((v) => round(v)) } },
    cpuUsPerHandshake: { off: round(median(perHandshake.off)), on: round(median(perHandshake.on)), runs: { off: perHandshake.off.map((v) => round(v)), on: perHandshake.on.map((v) => round(v)) } },
    ratios: {
      onVsOffCpuPerMsg: round(median(perMsg.on) / median(perMsg.off), 3),
      onVsOffCpuPerHandshake: round(median(perHandshake.on) / median(perHandshake.off), 3),
    },
    seriesInLastScrape: series,
  };
  const hooks = measureHookCost();
  Object.assign(result, { hookCostNs: { message: round(hooks.messageNs, 1), refusedMessage: round(hooks.refusedMessageNs, 1), handshake: round(hooks.handshakeNs, 1), messageWithMetricsOff: round(hooks.disabledMessageNs, 1) } });
  writeFileSync(join(resultsDir, quick ? 'quick.metrics.json' : 'metrics.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log(`metrics on/off: CPU per message ×${result.ratios.onVsOffCpuPerMsg} (${result.cpuUsPerMsg.on} vs ${result.cpuUsPerMsg.off} µs), per handshake ×${result.ratios.onVsOffCpuPerHandshake} (${result.cpuUsPerHandshake.on} vs ${result.cpuUsPerHandshake.off} µs); ${series} series in the last scrape`);
  console.log(`hooks alone (CPU of this thread, best of 5): ${hooks.messageNs.toFixed(1)} ns per message, ${hooks.refusedMessageNs.toFixed(1)} ns per refusal, ${hooks.handshakeNs.toFixed(0)} ns per handshake (${(hooks.messageNs / 10 / result.cpuUsPerMsg.off).toFixed(3)}% of this run's ${result.cpuUsPerMsg.off} µs per message with metrics off)`);
}

function round2(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(2);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
