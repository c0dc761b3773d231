/**
 * The load generator, in its own process (started by bench/run.ts, pinned to the core the servers
 * do not use). Socket.IO clients over WebSocket; every figure it returns carries its own CPU use,
 * so the run can tell when the generator, not the server, was the bottleneck.
 */
import { io, type Socket } from 'socket.io-client';
import { serveIpc } from './support/ipc.js';
import { percentile } from './support/stats.js';
import { ECHO_EVENT, ECHO_PAYLOAD as PAYLOAD, NAMESPACE, type CpuSnapshot } from './support/protocol.js';
import { benchToken as token } from './support/token.js';

function cpuNow(): CpuSnapshot {
  const usage = process.cpuUsage();
  return { user: usage.user, system: usage.system, atMs: performance.now() };
}

/** CPU used between two snapshots as a fraction of one core. */
function cpuFraction(from: CpuSnapshot, to: CpuSnapshot): number {
  return (to.user - from.user + to.system - from.system) / 1000 / (to.atMs - from.atMs);
}

function open(url: string, tokenValue: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url + NAMESPACE, { forceNew: true, reconnection: false, transports: ['websocket'], auth: { token: tokenValue }, timeout: 20_000 });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
      socket.disconnect();
      reject(new Error(`connect_error ${error.data?.code ?? error.message}`));
    });
  });
}

/** Opens `count` sockets for users `${prefix}${i}`, at most `parallel` handshakes at a time. */
async function openMany(url: string, count: number, prefix: string, parallel = 64): Promise<{ sockets: Socket[]; failures: string[] }> {
  const sockets: Socket[] = [];
  const failures: string[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        sockets.push(await open(url, token(`${prefix}${i}`)));
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return { sockets, failures };
}

async function until(condition: () => boolean, deadlineMs: number): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

function isEcho(reply: unknown): boolean {
  return typeof reply === 'object' && reply !== null && (reply as { text?: unknown }).text === PAYLOAD.text;
}

// ---- closed loop: N sockets, each with one ack in flight ----
const closed = { sockets: [] as Socket[], running: false, count: 0, errors: 0, inFlight: 0, lastError: '' };

async function closedStart(args: { url: string; sockets: number; prefix: string }): Promise<{ failures: number }> {
  const { sockets, failures } = await openMany(args.url, args.sockets, args.prefix);
  Object.assign(closed, { sockets, running: true, count: 0, errors: 0, inFlight: 0, lastError: '' });
  const loop = (socket: Socket): void => {
    closed.inFlight++;
    socket.emit(ECHO_EVENT, PAYLOAD, (reply: unknown) => {
      closed.inFlight--;
      if (isEcho(reply)) closed.count++;
      else { closed.errors++; closed.lastError = JSON.stringify(reply).slice(0, 200); }
      if (closed.running) loop(socket);
    });
  };
  for (const socket of sockets) loop(socket);
  return { failures: failures.length };
}

function closedSnapshot(): { count: number; errors: number; lastError: string; cpu: CpuSnapshot } {
  return { count: closed.count, errors: closed.errors, lastError: closed.lastError, cpu: cpuNow() };
}

async function closedStop(): Promise<true> {
  closed.running = false;
  await until(() => closed.inFlight === 0, 10_000);
  for (const socket of closed.sockets) socket.disconnect();
  closed.sockets = [];
  return true;
}

// ---- open loop: a fixed rate spread over N sockets, latency from the intended send time ----
async function openLoop(args: { url: string; sockets: number; prefix: string; rate: number; warmupMs: number; durationMs: number }): Promise<{
  p50Ms: number; p99Ms: number; samples: number; errors: number; lost: number; loadCpu: number; lastError: string;
}> {
  const { sockets } = await openMany(args.url, args.sockets, args.prefix);
  if (sockets.length === 0) throw new Error('open loop: no socket connected');
  const latencies: number[] = [];
  let errors = 0;
  let outstanding = 0;
  let sent = 0;
  let lastError = '';
  const intervalMs = 1000 / args.rate;
  const t0 = performance.now();
  const measureFrom = t0 + args.warmupMs;
  const end = measureFrom + args.durationMs;
  let cpuStart: CpuSnapshot | undefined;
  let cpuEnd: CpuSnapshot | undefined;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (cpuStart === undefined && now >= measureFrom) cpuStart = cpuNow();
      const due = Math.min(Math.floor((Math.min(now, end) - t0) / intervalMs), Math.floor((end - t0) / intervalMs));
      while (sent < due) {
        const intended = t0 + sent * intervalMs;
        const socket = sockets[sent % sockets.length]!;
        sent++;
        outstanding++;
        socket.emit(ECHO_EVENT, PAYLOAD, (reply: unknown) => {
          outstanding--;
          if (!isEcho(reply)) { errors++; lastError = JSON.stringify(reply).slice(0, 200); return; }
          if (intended >= measureFrom) latencies.push(performance.now() - intended);
        });
      }
      if (now >= end) { cpuEnd = cpuNow(); resolve(); return; }
      setTimeout(tick, 0);
    };
    tick();
  });
  await until(() => outstanding === 0, 10_000);
  const lost = outstanding;
  for (const socket of sockets) socket.disconnect();
  latencies.sort((a, b) => a - b);
  return {
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    samples: latencies.length,
    errors,
    lost,
    loadCpu: cpuStart !== undefined && cpuEnd !== undefined ? cpuFraction(cpuStart, cpuEnd) : Number.NaN,
    lastError,
  };
}

// ---- handshakes: connect with a fresh token, disconnect, next; `parallel` at a time ----
async function handshakes(args: { url: string; parallel: number; durationMs: number; prefix: string; presign: number }): Promise<{
  perSec: number; count: number; failures: number; loadCpu: number; lastFailure: string;
}> {
  const tokens: string[] = [];
  for (let i = 0; i < args.presign; i++) tokens.push(token(`${args.prefix}${i}`));
  let issued = 0;
  let count = 0;
  let failures = 0;
  let lastFailure = '';
  const cpuStart = cpuNow();
  const end = cpuStart.atMs + args.durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const i = issued++;
      try {
        const socket = await open(args.url, tokens[i] ?? token(`${args.prefix}${i}`));
        socket.disconnect();
        count++;
      } catch (error) {
        failures++;
        lastFailure = (error as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: args.parallel }, worker));
  const cpuEnd = cpuNow();
  return { perSec: (count * 1000) / (cpuEnd.atMs - cpuStart.atMs), count, failures, loadCpu: cpuFraction(cpuStart, cpuEnd), lastFailure };
}

// ---- held connections (memory) ----
let held: Socket[] = [];

async function hold(args: { url: string; count: number; prefix: string }): Promise<{ connected: number; failures: number; firstFailure: string }> {
  const { sockets, failures } = await openMany(args.url, args.count, args.prefix);
  held.push(...sockets);
  return { connected: sockets.length, failures: failures.length, firstFailure: failures[0] ?? '' };
}

function release(): number {
  const n = held.length;
  for (const socket of held) socket.disconnect();
  held = [];
  return n;
}

serveIpc({
  closedStart,
  closedSnapshot,
  closedStop,
  openLoop,
  handshakes,
  hold,
  release,
  exit: () => { setImmediate(() => process.exit(0)); return true; },
});
process.send?.({ ready: true });
