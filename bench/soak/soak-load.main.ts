import { createHmac } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { serveIpc } from '../support/ipc.js';

/**
 * The soak's load process (a child of `soak.main.ts`, apart from the server so the two never share
 * a heap or an event loop): keeps `connections` authenticated `/chat` sockets open, replaces
 * `churnPerSecond` of them every second (fresh handshakes, spread over 127.0.0.2-201 so the
 * sample's per-address handshake limit stays on), and sends `messagesPerSecond` `message:send`
 * with acks from random joined sockets. 1 in 20 sockets uses long-polling, the rest websocket.
 */
export interface SoakLoadConfig {
  readonly url: string;
  readonly secret: string;
  readonly tenant: string;
  readonly connections: number;
  readonly churnPerSecond: number;
  readonly messagesPerSecond: number;
}

export interface SoakLoadStats {
  readonly connected: number;
  readonly opening: number;
  readonly opened: number;
  readonly closedByUs: number;
  readonly droppedByServer: number;
  readonly connectErrors: Record<string, number>;
  readonly sent: number;
  readonly acked: number;
  readonly ackErrors: Record<string, number>;
  /** Acks still pending on a connected socket after 10 s: an error. */
  readonly ackTimeouts: number;
  /** Acks lost because the load itself closed that socket (churn) before the answer came: not an error. */
  readonly ackAbandoned: number;
  readonly received: number;
  readonly users: number;
}

const TICK_MS = 100;
const MAX_OPENING = 200;
const CHANNELS = 50;

interface Slot {
  socket: Socket | null;
  joined: boolean;
  /** Ends the socket's "opening" state (connected, refused, or closed by the churn first). */
  settle: () => void;
}

let config: SoakLoadConfig | null = null;
let slots: Slot[] = [];
let timers: NodeJS.Timeout[] = [];
let nextUser = 0;
const usersSeen = new Set<string>();
const counters = { opened: 0, closedByUs: 0, droppedByServer: 0, sent: 0, acked: 0, ackTimeouts: 0, ackAbandoned: 0, received: 0, opening: 0 };
const connectErrors: Record<string, number> = {};
const ackErrors: Record<string, number> = {};
const bump = (into: Record<string, number>, key: string) => { into[key] = (into[key] ?? 0) + 1; };

function sign(secret: string, claims: Record<string, unknown>): string {
  const input = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function open(index: number): void {
  const c = config as SoakLoadConfig;
  const slot = slots[index] as Slot;
  // Users cycle through twice as many ids as slots: at most a few sockets per user at once (ceiling 3).
  const user = `u${nextUser++ % (c.connections * 2)}`;
  usersSeen.add(user);
  const now = Math.floor(Date.now() / 1000);
  const token = sign(c.secret, { sub: user, tenant: c.tenant, perms: ['channel:*'], iat: now, exp: now + 3600 });
  const polling = index % 20 === 0;
  const socket = io(`${c.url}/chat`, {
    forceNew: true,
    reconnection: false,
    timeout: 20_000,
    transports: [polling ? 'polling' : 'websocket'],
    auth: { token },
    ...(polling ? {} : { localAddress: `127.0.0.${2 + (index % 200)}` }),
  } as Parameters<typeof io>[1]);
  slot.socket = socket;
  slot.joined = false;
  counters.opening += 1;
  let settled = false;
  const settle = () => {
    if (!settled) {
      settled = true;
      counters.opening -= 1;
    }
  };
  slot.settle = settle;
  socket.once('connect', () => {
    settle();
    counters.opened += 1;
    socket.emit('channel:join', { channelId: `room-${index % CHANNELS}` }, (answer: { ok?: boolean; error?: { code: string } }) => {
      if (answer?.ok === true) slot.joined = slot.socket === socket;
      else bump(ackErrors, `join:${answer?.error?.code ?? 'unknown'}`);
    });
  });
  socket.once('connect_error', (error: Error & { data?: { code?: string } }) => {
    settle();
    bump(connectErrors, error.data?.code ?? error.message);
    if (slot.socket === socket) slot.socket = null;
    socket.close();
  });
  socket.on('message', () => { counters.received += 1; });
  socket.on('disconnect', (reason) => {
    if (reason !== 'io client disconnect') {
      counters.droppedByServer += 1;
      bump(connectErrors, `dropped:${reason}`);
      if (slot.socket === socket) slot.socket = null;
    }
  });
}

function close(index: number): void {
  const slot = slots[index] as Slot;
  if (slot.socket === null) return;
  // A socket closed while its handshake is in flight never fires connect or connect_error.
  slot.settle();
  slot.socket.disconnect();
  slot.socket = null;
  slot.joined = false;
  counters.closedByUs += 1;
}

function refill(budget: number): void {
  for (let i = 0; i < slots.length && budget > 0 && counters.opening < MAX_OPENING; i++) {
    if ((slots[i] as Slot).socket === null) {
      open(i);
      budget -= 1;
    }
  }
}

function tick(): void {
  const c = config as SoakLoadConfig;
  // Churn: close a random few connected sockets, then refill every empty slot (bounded in flight).
  let churn = c.churnPerSecond * (TICK_MS / 1000);
  churn = Math.floor(churn) + (Math.random() < churn % 1 ? 1 : 0);
  for (let k = 0; k < churn; k++) close(Math.floor(Math.random() * slots.length));
  refill(MAX_OPENING);
  // Messages from random joined sockets, each with an ack.
  let messages = c.messagesPerSecond * (TICK_MS / 1000);
  messages = Math.floor(messages) + (Math.random() < messages % 1 ? 1 : 0);
  for (let k = 0; k < messages; k++) {
    const index = Math.floor(Math.random() * slots.length);
    const slot = slots[index] as Slot;
    const socket = slot.socket;
    if (socket === null || !slot.joined || !socket.connected) continue;
    counters.sent += 1;
    socket.timeout(10_000).emit('message:send', { channelId: `room-${index % CHANNELS}`, text: `soak ${counters.sent}` }, (error: Error | null, answer?: { ok?: boolean; error?: { code: string } }) => {
      if (error !== null && (slot.socket !== socket || !socket.connected)) counters.ackAbandoned += 1;
      else if (error !== null) counters.ackTimeouts += 1;
      else if (answer?.ok === true) counters.acked += 1;
      else bump(ackErrors, answer?.error?.code ?? 'unknown');
    });
  }
}

function stats(): SoakLoadStats {
  return {
    connected: slots.filter((s) => s.socket?.connected === true).length,
    opening: counters.opening,
    opened: counters.opened,
    closedByUs: counters.closedByUs,
    droppedByServer: counters.droppedByServer,
    connectErrors: { ...connectErrors },
    sent: counters.sent,
    acked: counters.acked,
    ackErrors: { ...ackErrors },
    ackTimeouts: counters.ackTimeouts,
    ackAbandoned: counters.ackAbandoned,
    received: counters.received,
    users: usersSeen.size,
  };
}

/**
 * Connects every user id of the pool once (join, one message, close), at most MAX_OPENING at a
 * time, so what the server keeps per user it has seen (an offline presence record with its
 * `lastSeen`, a rate-limit counter until its sweep) is already in the heap baseline: the soak then
 * measures growth with time and traffic, not the size of its user pool.
 */
async function touchPool(c: SoakLoadConfig): Promise<{ touched: number; failed: number }> {
  const pool = c.connections * 2;
  let next = 0;
  let touched = 0;
  let failed = 0;
  const now = Math.floor(Date.now() / 1000);
  const one = (n: number) => new Promise<void>((resolve) => {
    const token = sign(c.secret, { sub: `u${n}`, tenant: c.tenant, perms: ['channel:*'], iat: now, exp: now + 3600 });
    const socket = io(`${c.url}/chat`, { forceNew: true, reconnection: false, timeout: 20_000, transports: ['websocket'], auth: { token }, localAddress: `127.0.0.${2 + (n % 200)}` } as Parameters<typeof io>[1]);
    const done = (ok: boolean) => {
      if (ok) touched += 1;
      else failed += 1;
      socket.close();
      resolve();
    };
    socket.once('connect_error', () => done(false));
    socket.once('connect', async () => {
      const channelId = `room-${n % CHANNELS}`;
      const joined = (await socket.timeout(10_000).emitWithAck('channel:join', { channelId }).catch(() => null)) as { ok?: boolean } | null;
      const sent = (await socket.timeout(10_000).emitWithAck('message:send', { channelId, text: 'warm-up' }).catch(() => null)) as { ok?: boolean } | null;
      done(joined?.ok === true && sent?.ok === true);
    });
  });
  const worker = async () => {
    while (next < pool) await one(next++);
  };
  await Promise.all(Array.from({ length: Math.min(MAX_OPENING, pool) }, worker));
  return { touched, failed };
}

serveIpc({
  touchPool,
  /** Opens every slot, then churns and sends until `stop`. */
  start: (args: SoakLoadConfig) => {
    config = args;
    nextUser = 0;
    usersSeen.clear();
    for (const key of Object.keys(counters) as (keyof typeof counters)[]) if (key !== 'opening') counters[key] = 0;
    for (const record of [connectErrors, ackErrors]) for (const key of Object.keys(record)) delete record[key];
    slots = Array.from({ length: args.connections }, () => ({ socket: null, joined: false, settle: () => undefined }));
    refill(MAX_OPENING);
    timers.push(setInterval(tick, TICK_MS));
    return true;
  },
  stats,
  /** Stops the load and closes every socket; resolves with the final counters and every user id used. */
  stop: async () => {
    for (const timer of timers) clearInterval(timer);
    timers = [];
    // Let handshakes in flight settle, so none opens after the close.
    const deadline = Date.now() + 30_000;
    while (counters.opening > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = 0; i < slots.length; i++) close(i);
    return { stats: stats(), users: [...usersSeen] };
  },
});
