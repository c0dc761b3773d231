import { fork, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IpcClient } from '../support/ipc.js';
import type { SoakLoadConfig, SoakLoadStats } from './soak-load.main.js';
import type { SoakLeftovers, SoakServerStats } from './soak-server.main.js';

/**
 * `npm run soak`: the sample (in-memory) in a child process with `--expose-gc`, thousands of
 * authenticated connections churning while messages flow from a separate load process. Samples
 * connections, messages, errors, heap and RSS every second (a table every few seconds), writes
 * bench/soak/results/latest.json, and exits non-zero when, after every client closed and a GC,
 * the heap is not back within the bound of its baseline, or any lease, session or presence entry
 * is left behind (the moderation routes report nobody online, no connection).
 *
 * Options (flag or environment): --duration / SOAK_DURATION_S (60), --connections /
 * SOAK_CONNECTIONS (2000), --churn / SOAK_CHURN_PER_S (connections replaced per second, 100),
 * --message-rate / SOAK_MESSAGES_PER_S (500), --report-every / SOAK_REPORT_EVERY_S (5),
 * --heap-bound-mb / SOAK_HEAP_BOUND_MB (5) and --heap-bound-pct / SOAK_HEAP_BOUND_PCT (10): the
 * heap may end at most max(MB, PCT % of baseline) above its baseline.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
// Compiled to dist-bench/bench/soak/: the repository root is three levels up.
const ROOT = join(HERE, '../../..');
const RESULTS = join(ROOT, 'bench/soak/results/latest.json');
const TENANT = 'soak';
const MB = 1024 * 1024;

interface Options {
  durationS: number;
  connections: number;
  churnPerSecond: number;
  messagesPerSecond: number;
  reportEveryS: number;
  heapBoundMb: number;
  heapBoundPct: number;
}

interface Sample {
  t: number;
  server: SoakServerStats;
  load: SoakLoadStats;
}

function option(name: string, env: string, fallback: number, min: number, max: number): number {
  const flag = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  const raw = flag !== undefined ? flag.slice(name.length + 3) : process.env[env];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} (${env}) must be a number from ${min} to ${max} (got ${JSON.stringify(raw)}).`);
  return value;
}

function readOptions(): Options {
  return {
    durationS: option('duration', 'SOAK_DURATION_S', 60, 5, 86_400),
    connections: option('connections', 'SOAK_CONNECTIONS', 2000, 1, 9000),
    churnPerSecond: option('churn', 'SOAK_CHURN_PER_S', 100, 0, 5000),
    messagesPerSecond: option('message-rate', 'SOAK_MESSAGES_PER_S', 500, 0, 50_000),
    reportEveryS: option('report-every', 'SOAK_REPORT_EVERY_S', 5, 1, 3600),
    heapBoundMb: option('heap-bound-mb', 'SOAK_HEAP_BOUND_MB', 5, 0, 1024),
    heapBoundPct: option('heap-bound-pct', 'SOAK_HEAP_BOUND_PCT', 10, 0, 100),
  };
}

function child(file: string, args: string[], env: Record<string, string>): ChildProcess {
  return fork(join(HERE, file), [], { execArgv: args, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
}

function sign(secret: string, claims: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => (bytes / MB).toFixed(1);
const sum = (record: Record<string, number>) => Object.values(record).reduce((a, b) => a + b, 0);

function row(cells: (string | number)[]): string {
  const widths = [7, 9, 8, 9, 9, 9, 9, 8, 9, 9, 9];
  return cells.map((cell, i) => String(cell).padStart(widths[i] ?? 9)).join(' ');
}

/** Polls the server until no engine client, socket, lease or session is left, or 60 s pass. */
async function drain(serverIpc: IpcClient): Promise<SoakServerStats> {
  const deadline = Date.now() + 60_000;
  let stats = await serverIpc.call<SoakServerStats>('stats');
  while ((stats.engineClients > 0 || stats.chatSockets > 0 || stats.lifecycle.leases > 0 || stats.lifecycle.sessions > 0) && Date.now() < deadline) {
    await sleep(250);
    stats = await serverIpc.call<SoakServerStats>('stats');
  }
  return stats;
}

async function main(): Promise<void> {
  const options = readOptions();
  const secret = randomBytes(32).toString('base64url');
  const server = child('soak-server.main.js', ['--expose-gc'], { JWT_SECRET: secret, DEMO_LOGIN: 'off', PORT: '0', ALLOWED_ORIGINS: 'http://127.0.0.1', SOAK_TENANT: TENANT, NODE_ENV: 'production' });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`soak server exited (${code}) before it was ready`)));
    server.on('message', (message: { ready?: boolean; port?: number }) => { if (message.ready === true) resolve(message.port as number); });
  });
  const url = `http://127.0.0.1:${port}`;
  const serverIpc = new IpcClient(server, 'soak server');
  const load = child('soak-load.main.js', [], {});
  const loadIpc = new IpcClient(load, 'soak load');
  const moderator = sign(secret, { sub: 'soak-moderator', tenant: TENANT, perms: ['moderation:read'], iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 86_400 });
  const failures: string[] = [];
  const samples: Sample[] = [];
  let exitCode = 1;
  try {
    console.log(`soak: ${options.connections} connections, churn ${options.churnPerSecond}/s, ${options.messagesPerSecond} messages/s for ${options.durationS} s against the sample on ${url} (${cpus().length} cores, ${mb(totalmem())} MB)`);
    // Warm-up (not measured): a few hundred connections and messages for 3 s, so code compiled
    // and caches filled on first use are in the baseline, not counted as growth; then every user
    // id of the pool once, so per-user state (offline presence records, rate-limit counters) is too.
    const loadConfig: SoakLoadConfig = { url, secret, tenant: TENANT, connections: options.connections, churnPerSecond: options.churnPerSecond, messagesPerSecond: options.messagesPerSecond };
    const warmup: SoakLoadConfig = { ...loadConfig, connections: Math.min(200, options.connections), churnPerSecond: 20, messagesPerSecond: 100 };
    await loadIpc.call('start', warmup);
    await sleep(3000);
    await loadIpc.call('stop');
    const pool = await loadIpc.call<{ touched: number; failed: number }>('touchPool', loadConfig);
    console.log(`warm-up: ${pool.touched} user ids of the pool connected once (${pool.failed} failed)`);
    await drain(serverIpc);
    const baseline = await serverIpc.call<SoakServerStats>('gc');
    console.log(`baseline after GC: heap ${mb(baseline.heapUsed)} MB, rss ${mb(baseline.rss)} MB`);
    await loadIpc.call('start', loadConfig);
    const started = Date.now();
    console.log(row(['t(s)', 'conns', 'opening', 'sockets', 'opened', 'msgs/s', 'acked', 'recv', 'errors', 'heap MB', 'rss MB']));
    let lastSent = 0;
    let lastReport = 0;
    while (Date.now() - started < options.durationS * 1000) {
      await sleep(1000);
      const [s, l] = await Promise.all([serverIpc.call<SoakServerStats>('stats'), loadIpc.call<SoakLoadStats>('stats')]);
      const t = Math.round((Date.now() - started) / 1000);
      samples.push({ t, server: s, load: l });
      if (t - lastReport >= options.reportEveryS) {
        const rate = Math.round((l.sent - lastSent) / (t - lastReport));
        console.log(row([t, l.connected, l.opening, s.chatSockets, l.opened, rate, l.acked, l.received, sum(l.connectErrors) + sum(l.ackErrors) + l.ackTimeouts, mb(s.heapUsed), mb(s.rss)]));
        lastSent = l.sent;
        lastReport = t;
      }
    }
    const stopped = await loadIpc.call<{ stats: SoakLoadStats; users: string[] }>('stop');
    // Every client closed: the server must get back to zero on its own (poll with a deadline).
    await drain(serverIpc);
    // Presence goes offline after the flap window (2 s): wait for nobody online, with a deadline.
    const presenceDeadline = Date.now() + 30_000;
    let listed: unknown[] = [];
    for (;;) {
      const response = await fetch(`${url}/moderation/presence`, { headers: { authorization: `Bearer ${moderator}` } });
      listed = ((await response.json()) as { users: unknown[] }).users;
      if (listed.length === 0 || Date.now() > presenceDeadline) break;
      await sleep(250);
    }
    const sampled = stopped.users.filter((_, i) => i % Math.max(1, Math.floor(stopped.users.length / 50)) === 0);
    const perUser = await Promise.all(sampled.map(async (user) => {
      const response = await fetch(`${url}/moderation/presence/${encodeURIComponent(user)}`, { headers: { authorization: `Bearer ${moderator}` } });
      return (await response.json()) as { userId: string; status: string; connections: number };
    }));
    const leftovers = await serverIpc.call<SoakLeftovers>('leftovers', stopped.users);
    const final = await serverIpc.call<SoakServerStats>('gc');
    const allowed = Math.max(options.heapBoundMb * MB, baseline.heapUsed * (options.heapBoundPct / 100));
    const growth = final.heapUsed - baseline.heapUsed;
    const peak = samples.reduce((max, s) => Math.max(max, s.server.heapUsed), 0);
    const peakRss = samples.reduce((max, s) => Math.max(max, s.server.rss), 0);

    if (growth > allowed) failures.push(`heap after GC is ${mb(final.heapUsed)} MB: ${mb(growth)} MB above the baseline ${mb(baseline.heapUsed)} MB (allowed ${mb(allowed)} MB)`);
    if (final.engineClients !== 0 || final.chatSockets !== 0) failures.push(`engine clients ${final.engineClients}, /chat sockets ${final.chatSockets} after every client closed`);
    for (const [name, value] of Object.entries(final.lifecycle)) if (value !== 0) failures.push(`lifecycle ${name} is ${value} after every client closed`);
    if (final.leaseUsers > 0) failures.push(`the lease store still holds slots for ${final.leaseUsers} users`);
    if (leftovers.leases !== 0) failures.push(`${leftovers.leases} connection slots left behind`);
    if (leftovers.online.length > 0 || final.online !== 0) failures.push(`${Math.max(leftovers.online.length, final.online)} users still online (e.g. ${leftovers.online.slice(0, 3).join(', ')})`);
    if (listed.length !== 0) failures.push(`GET /moderation/presence still lists ${listed.length} users`);
    const ghosts = perUser.filter((p) => p.connections !== 0 || p.status !== 'offline');
    if (ghosts.length > 0) failures.push(`GET /moderation/presence/:userId: ${ghosts.length} of ${perUser.length} sampled users not offline with 0 connections`);
    if (stopped.stats.opened === 0 || stopped.stats.acked === 0) failures.push('no connection or message got through: the load never ran');

    const result = {
      when: new Date().toISOString(),
      options,
      machine: { cores: cpus().length, totalMemMb: Math.round(totalmem() / MB), node: process.version },
      load: stopped.stats,
      usersUsed: stopped.users.length,
      heap: { baselineMb: +mb(baseline.heapUsed), peakMb: +mb(peak), finalMb: +mb(final.heapUsed), growthMb: +mb(growth), allowedMb: +mb(allowed) },
      rss: { baselineMb: +mb(baseline.rss), peakMb: +mb(peakRss), finalMb: +mb(final.rss) },
      afterClose: { server: final, moderationPresenceListed: listed.length, sampledUsers: perUser.length, ghosts: ghosts.length, leftovers: { leases: leftovers.leases, online: leftovers.online.length } },
      failures,
      pass: failures.length === 0,
      samples: samples.map((s) => ({
        t: s.t, connected: s.load.connected, sockets: s.server.chatSockets, engineClients: s.server.engineClients, leases: s.server.lifecycle.leases,
        opened: s.load.opened, closedByUs: s.load.closedByUs, sent: s.load.sent, acked: s.load.acked, received: s.load.received,
        errors: sum(s.load.connectErrors) + sum(s.load.ackErrors) + s.load.ackTimeouts, heapMb: +mb(s.server.heapUsed), rssMb: +mb(s.server.rss),
      })),
    };
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
    const l = stopped.stats;
    console.log(`\nload: ${l.opened} connections opened, ${l.closedByUs} closed by the load (churn and the final close), ${l.droppedByServer} dropped by the server; ${l.sent} messages sent, ${l.acked} acked, ${l.received} delivered; connect errors ${JSON.stringify(l.connectErrors)}, ack errors ${JSON.stringify(l.ackErrors)}, ack timeouts ${l.ackTimeouts} (${l.ackAbandoned} acks abandoned because churn closed the socket first)`);
    console.log(`heap: baseline ${mb(baseline.heapUsed)} MB, peak ${mb(peak)} MB, after close + GC ${mb(final.heapUsed)} MB (growth ${mb(growth)} MB, allowed ${mb(allowed)} MB); rss peak ${mb(peakRss)} MB, final ${mb(final.rss)} MB`);
    console.log(`after close: ${final.engineClients} engine clients, ${final.chatSockets} sockets, lifecycle ${JSON.stringify(final.lifecycle)}, ${leftovers.leases} slots and ${leftovers.online.length} online of ${stopped.users.length} users, moderation list ${listed.length}, ${ghosts.length} ghosts in ${perUser.length} sampled`);
    console.log(`results: ${RESULTS}`);
    if (failures.length === 0) {
      console.log('SOAK PASS');
      exitCode = 0;
    } else {
      for (const failure of failures) console.log(`SOAK FAIL: ${failure}`);
    }
  } finally {
    await serverIpc.call('close', undefined, 10_000).catch(() => server.kill('SIGKILL'));
    load.kill('SIGTERM');
  }
  process.exit(exitCode);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
