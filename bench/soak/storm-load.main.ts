import { createHmac } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { serveIpc } from '../support/ipc.js';

/**
 * The reconnect storm's load process (a child of `storm.main.ts`): `users` users, each with one
 * `/chat` socket on every node URL, as plain Socket.IO clients with their default reconnection
 * (delay 1 s doubling to 5 s, randomization 0.5, unlimited attempts). With `forwardedFor`, each
 * client sends its own `X-Forwarded-For` (as if behind one reverse proxy); without it they all
 * share 127.0.0.1. The users hold `channel:*` only, as in the churn soak: with `presence:read`
 * each connect is broadcast to every socket of the tenant (2,000 x 2,000 emits), which is the
 * presence broadcast's cost, not the storm's. Counts connects, refusals by reason and reconnect attempts. A refusal by the
 * server's middleware is not retried by Socket.IO: like an app would, it retries the ones that mean
 * "later" (`SERVICE_UNAVAILABLE`, `CONNECTION_LIMIT`).
 */
export interface StormLoadConfig {
  readonly urls: readonly string[];
  readonly secret: string;
  readonly tenant: string;
  readonly users: number;
  readonly forwardedFor: boolean;
}

export interface StormLoadStats {
  readonly clients: number;
  readonly connected: number;
  /** `connect_error`s by reason (the server's code, or the transport's message). */
  readonly refusals: Record<string, number>;
  /** `disconnect` reasons seen. */
  readonly disconnects: Record<string, number>;
  readonly reconnectAttempts: number;
  /** Retries the app made itself after a refusal by the server's middleware. */
  readonly appRetries: number;
}

const sockets: Socket[] = [];
const refusals: Record<string, number> = {};
const disconnects: Record<string, number> = {};
let reconnectAttempts = 0;
let appRetries = 0;

function sign(secret: string, sub: string, tenant: string): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, tenant, perms: ['channel:*'], iat: now, exp: now + 6 * 3600 })}`;
  return `${body}.${createHmac('sha256', secret).update(body).digest('base64url')}`;
}

const bump = (into: Record<string, number>, key: string) => { into[key] = (into[key] ?? 0) + 1; };

/** The initial connections are opened in steps (not the storm being measured): this many per step. */
const RAMP_STEP = 100;
const RAMP_EVERY_MS = 250;

async function open(c: StormLoadConfig): Promise<void> {
  for (let u = 0; u < c.users; u += 1) {
    if (u > 0 && (u * c.urls.length) % RAMP_STEP === 0) await new Promise((resolve) => setTimeout(resolve, RAMP_EVERY_MS));
    const token = sign(c.secret, `storm-${u}`, c.tenant);
    for (const [n, url] of c.urls.entries()) {
      const index = u * c.urls.length + n;
      const address = `10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`;
      const socket = io(`${url}/chat`, {
        forceNew: true,
        transports: ['websocket'],
        auth: { token },
        ...(c.forwardedFor ? { extraHeaders: { 'x-forwarded-for': address } } : {}),
      });
      socket.on('connect_error', (error: Error & { data?: { code?: string } }) => {
        bump(refusals, error.data?.code ?? error.message);
        // Socket.IO retries transport failures by itself, not a refusal by the server's middleware:
        // the app retries those that say "later" (SERVICE_UNAVAILABLE, CONNECTION_LIMIT while a dead
        // node's slots are reaped), with the Manager's own backoff shape (1-5 s, randomized).
        if (!socket.active && (error.data?.code === 'SERVICE_UNAVAILABLE' || error.data?.code === 'CONNECTION_LIMIT')) {
          appRetries += 1;
          setTimeout(() => socket.connect(), 1000 + Math.random() * 4000);
        }
      });
      socket.on('disconnect', (reason) => bump(disconnects, reason));
      socket.io.on('reconnect_attempt', () => { reconnectAttempts += 1; });
      sockets.push(socket);
    }
  }
}

function stats(): StormLoadStats {
  return { clients: sockets.length, connected: sockets.filter((s) => s.connected).length, refusals: { ...refusals }, disconnects: { ...disconnects }, reconnectAttempts, appRetries };
}

serveIpc({
  open: async (c: StormLoadConfig) => { await open(c); return true; },
  stats: () => stats(),
  reset: () => {
    for (const key of Object.keys(refusals)) delete refusals[key];
    for (const key of Object.keys(disconnects)) delete disconnects[key];
    reconnectAttempts = 0;
    appRetries = 0;
    return true;
  },
  close: () => {
    for (const socket of sockets.splice(0)) socket.disconnect();
    setTimeout(() => process.exit(0), 200);
    return true;
  },
});
