/**
 * `npm run bench:metrics-chart`: the README's dashboard picture, rendered from a real run. Starts
 * the built sample (`dist-sample/sample/main.js`, METRICS_PORT on a free port), drives 45 s of
 * scripted load (users arriving and chatting, refused handshakes, forbidden and unknown events, a
 * ban, a message flood, users leaving), scrapes `GET /metrics` every second, and draws the main
 * panels of docs/grafana-dashboard.json from the scrapes (rates from counter deltas, as PromQL's
 * `rate()`) into docs/metrics-dashboard.svg.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JwtService } from '@nestjs/jwt';
import { io, type Socket } from 'socket.io-client';
import { parseSamples, sumBy, type Sample } from './prometheus-text.js';
import { renderDashboard, type Line, type Panel } from './svg-chart.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const SECRET = 'dashboard-chart-secret-0123456789-abcdefghijklmnop';
const DURATION_S = 45;
const P = 'realtime_security_';
const jwt = new JwtService();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function token(sub: string, perms: string[]): string {
  const now = Math.floor(Date.now() / 1000);
  return jwt.sign({ sub, tenant: 'acme', perms, iat: now, exp: now + 3600 }, { secret: SECRET, algorithm: 'HS256' });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function open(url: string, options: Parameters<typeof io>[1]): Promise<Socket | null> {
  return new Promise((resolve) => {
    const socket = io(`${url}/chat`, { forceNew: true, reconnection: false, transports: ['websocket'], timeout: 20_000, ...options });
    socket.once('connect', () => resolve(socket));
    socket.once('connect_error', () => { socket.disconnect(); resolve(null); });
  });
}

async function main(): Promise<void> {
  const metricsPort = await freePort();
  const child = spawn(process.execPath, [join(root, 'dist-sample/sample/main.js')], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', JWT_SECRET: SECRET, METRICS_PORT: String(metricsPort), DEMO_LOGIN: 'off', ALLOWED_ORIGINS: 'http://app.example.com', MESSAGE_RATE_PER_USER: '40', HANDSHAKE_RATE_PER_ADDRESS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match !== null) resolve(match[1] as string);
    });
    child.once('exit', (code) => reject(new Error(`the sample exited (${code}) before listening`)));
  });
  const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  const scrapes: { t: number; samples: Sample[] }[] = [];
  const started = Date.now();
  const scraper = setInterval(() => {
    const t = (Date.now() - started) / 1000;
    void fetch(metricsUrl).then((r) => r.text()).then((text) => scrapes.push({ t, samples: parseSamples(text) }));
  }, 1000);

  const users: Socket[] = [];
  const chatters = setInterval(() => {
    for (const socket of users) if (socket.connected) socket.emit('message:send', { channelId: 'general', text: 'hello' }, () => undefined);
  }, 700);
  const at = (s: number) => sleep(Math.max(0, started + s * 1000 - Date.now()));
  const background = setInterval(() => {
    // Refusals any real service sees: a bad token, a foreign Origin with a cookie, a reader who tries to write, a typo'd event.
    void open(url, { auth: { token: 'not-a-token' } });
    if (Math.random() < 0.4) void open(url, { extraHeaders: { cookie: `rt_session=${token('x', ['channel:*'])}`, origin: 'http://evil.example' } });
    const reader = users[Math.floor(Math.random() * users.length)];
    reader?.emit('message:sned', { channelId: 'general' }, () => undefined);
  }, 800);

  // 0-15 s: 30 users arrive and chat; 5 of them may only read.
  for (let i = 0; i < 30; i += 1) {
    const socket = await open(url, { auth: { token: token(`user-${i}`, i % 6 === 5 ? ['channel:read', 'presence:read'] : ['channel:read', 'channel:write', 'presence:read']) } });
    if (socket !== null) {
      await socket.emitWithAck('channel:join', { channelId: 'general' });
      users.push(socket);
    }
    await sleep(450);
  }
  // 20 s: three users banned.
  await at(20);
  for (const id of ['user-1', 'user-2', 'user-3']) {
    await fetch(`${url}/moderation/users/${id}/ban`, { method: 'POST', headers: { authorization: `Bearer ${token('mod', ['moderation:write'])}` } });
  }
  // 26 s: a flood from one user: RATE_LIMITED, then the penalty disconnect.
  await at(26);
  const flooder = await open(url, { auth: { token: token('flooder', ['presence:read']) } });
  for (let i = 0; i < 60 && flooder?.connected; i += 1) flooder.emit('presence:list', {}, () => undefined);
  // 32-40 s: half the users leave.
  await at(32);
  for (const socket of users.slice(0, 15)) {
    socket.disconnect();
    await sleep(500);
  }
  await at(DURATION_S);
  clearInterval(background);
  clearInterval(chatters);
  clearInterval(scraper);
  for (const socket of users) socket.disconnect();
  await sleep(1200);
  child.kill('SIGTERM');

  scrapes.sort((a, b) => a.t - b.t);
  const gauge = (name: string, by: string | null, where: Record<string, string> = {}, label = (k: string) => k || name): Line[] => {
    const keys = new Set(scrapes.flatMap((s) => [...sumBy(s.samples, name, by, where).keys()]));
    return [...keys].sort().map((key) => ({ label: label(key), points: scrapes.map((s) => [s.t, sumBy(s.samples, name, by, where).get(key) ?? 0] as const) }));
  };
  const rate = (name: string, by: string | null, where: Record<string, string> = {}, label = (k: string) => k || name): Line[] => {
    const keys = new Set(scrapes.flatMap((s) => [...sumBy(s.samples, name, by, where).keys()]));
    return [...keys].sort().map((key) => ({
      label: label(key),
      points: scrapes.slice(1).map((s, i) => {
        const prev = scrapes[i]!;
        const delta = (sumBy(s.samples, name, by, where).get(key) ?? 0) - (sumBy(prev.samples, name, by, where).get(key) ?? 0);
        return [s.t, Math.max(0, delta) / (s.t - prev.t)] as const;
      }),
    }));
  };
  const panels: Panel[] = [
    { title: 'Open connections and online users', query: `sum by (transport) (${P}connections_open) · ${P}presence_online_users`, unit: 'connections / users',
      lines: [...gauge(`${P}connections_open`, 'transport', {}, (k) => `open (${k})`), ...gauge(`${P}presence_online_users`, null, {}, () => 'online users')] },
    { title: 'Handshakes per second by outcome and code', query: `sum by (outcome, code) (rate(${P}handshakes_total[1m]))`, unit: 'handshakes/s',
      lines: [...rate(`${P}handshakes_total`, 'outcome', { outcome: 'accepted' }, () => 'accepted'), ...rate(`${P}handshakes_total`, 'code', { outcome: 'refused' }, (k) => `refused ${k}`)] },
    { title: 'Messages per second: received, and refused by code', query: `rate(${P}messages_total) · sum by (code) (rate(${P}messages_refused_total))`, unit: 'messages/s',
      lines: [...rate(`${P}messages_total`, null, {}, () => 'received'), ...rate(`${P}messages_refused_total`, 'code', {}, (k) => `refused ${k}`)] },
    { title: 'Disconnects by reason, bans, rate-limit penalties', query: `sum by (reason) (rate(${P}disconnects_total[1m])) · ${P}moderation_actions_total`, unit: 'per second',
      lines: [...rate(`${P}disconnects_total`, 'reason', {}, (k) => `disconnect ${k}`), ...rate(`${P}moderation_actions_total`, 'action', {}, (k) => `moderation ${k}`), ...rate(`${P}rate_limit_penalties_total`, null, {}, () => 'rate-limit penalty')] },
  ];
  const svg = renderDashboard(
    'nestjs-realtime-security: the sample under scripted load',
    `Scraped from the sample's /metrics every second for ${DURATION_S} s (npm run bench:metrics-chart); the panels of docs/grafana-dashboard.json, rates from counter deltas`,
    panels,
    DURATION_S,
  );
  writeFileSync(join(root, 'docs', 'metrics-dashboard.svg'), svg);
  console.log(`docs/metrics-dashboard.svg: ${scrapes.length} scrapes`);
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
