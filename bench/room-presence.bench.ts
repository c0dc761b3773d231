/**
 * Cost of a room join + leave (`TenantRooms.join` / `leave` through a gateway, acked) with room
 * presence on against off, in memory and in cluster mode on Redis (when one answers on
 * REDIS_URL or 127.0.0.1:6379). App and clients share one process, so the ratios understate the
 * server-side difference (the client's share is the same on and off). Rounds are interleaved.
 *
 *   npx tsc -p bench/tsconfig.json && node dist-bench/bench/room-presence.bench.js [--quick]
 *
 * Prints µs per join+leave (median of rounds), and on/off ratios, then the time of one page of
 * 100 members in a room of 10,000 (store level). No assertion: a measurement.
 */
import 'reflect-metadata';
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { Redis } from 'ioredis';
import { JwtService } from '@nestjs/jwt';
import { io, type Socket as ClientSocket } from 'socket.io-client';
import type { Socket } from 'socket.io';
import { RealtimeSecurityModule, SecureIoAdapter, TenantRooms, WsAuthorize, type RealtimeSecurityOptions } from '../lib/index.js';
import { median, round } from './support/stats.js';
import { InMemoryPresenceStore } from '../lib/presence/in-memory-presence.store.js';
import { RedisConnection } from '../lib/cluster/redis-connection.js';
import { RedisPresenceStore } from '../lib/cluster/redis-presence.store.js';
import type { RoomPresenceStore } from '../lib/interfaces/presence-store.interface.js';

const SECRET = 'room-presence-bench-secret-0123456789-abcdefghijk';
const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 4;
const SOCKETS = 32;
const WARMUP_MS = quick ? 300 : 1000;
const MEASURE_MS = quick ? 1500 : 4000;
/** Rooms the sockets spread over (several members per room, as in a chat). */
const ROOMS = 8;

@WebSocketGateway({ namespace: '/bench' })
class RoomGateway {
  constructor(private readonly rooms: TenantRooms) {}

  @WsAuthorize('channel:read', { resource: 'channelId' })
  @SubscribeMessage('join')
  async join(@ConnectedSocket() socket: Socket, @MessageBody() body: { channelId: string }) {
    await this.rooms.join(socket, 'channel', body.channelId);
    return true;
  }

  @WsAuthorize('channel:read', { resource: 'channelId' })
  @SubscribeMessage('leave')
  async leave(@ConnectedSocket() socket: Socket, @MessageBody() body: { channelId: string }) {
    return this.rooms.leave(socket, 'channel', body.channelId);
  }
}

function moduleFor(rooms: boolean, redisUrl: string | undefined, prefix: string): DynamicModule {
  @Module({})
  class RoomBenchModule {}
  const options: RealtimeSecurityOptions = {
    jwt: { secret: SECRET },
    logSecurityEvents: false,
    logInventory: false,
    rateLimit: { messageLimit: 1_000_000, messageWindowMs: 10_000, handshakesPerAddress: 1_000_000, handshakeWindowMs: 60_000 },
    connections: { maxPerUser: 5, maxTotal: 100_000 },
    presence: { rooms: { enabled: rooms } },
    ...(redisUrl !== undefined ? { redis: { url: redisUrl, keyPrefix: prefix } } : {}),
  };
  return { module: RoomBenchModule, imports: [RealtimeSecurityModule.forRoot(options)], providers: [RoomGateway] };
}

const jwt = new JwtService();

async function token(sub: string): Promise<string> {
  return jwt.sign({ sub, tenant: 'bench', perms: ['channel:read'] }, { secret: SECRET, algorithm: 'HS256', expiresIn: 3600 });
}

/** µs per join+leave, all sockets looping for `MEASURE_MS` after a warm-up. */
async function measure(rooms: boolean, redisUrl: string | undefined, prefix: string): Promise<number> {
  const app: INestApplication = await NestFactory.create(moduleFor(rooms, redisUrl, prefix), { logger: ['error'] });
  app.useWebSocketAdapter(new SecureIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}/bench`;
  const sockets: ClientSocket[] = await Promise.all(Array.from({ length: SOCKETS }, async (_, i) => {
    const socket = io(url, { forceNew: true, reconnection: false, transports: ['websocket'], auth: { token: await token(`u${i}`) } });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return socket;
  }));
  let counting = false;
  let count = 0;
  let stop = false;
  const loops = sockets.map(async (socket, i) => {
    const channelId = `room-${i % ROOMS}`;
    while (!stop) {
      await socket.emitWithAck('join', { channelId });
      await socket.emitWithAck('leave', { channelId });
      if (counting) count += 1;
    }
  });
  await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
  counting = true;
  const started = process.hrtime.bigint();
  await new Promise((resolve) => setTimeout(resolve, MEASURE_MS));
  counting = false;
  const elapsedUs = Number(process.hrtime.bigint() - started) / 1000;
  stop = true;
  await Promise.all(loops);
  for (const socket of sockets) socket.disconnect();
  await app.close();
  return elapsedUs / count;
}

async function redisAvailable(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 500 });
  try {
    await client.connect();
    return (await client.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = new Redis(url);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await client.del(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
}

/** Fills a room with `members` users and times a page of 100 (from the start and from the middle). */
async function pageFigures(name: string, store: RoomPresenceStore, members: number): Promise<void> {
  const ids = Array.from({ length: members }, (_, i) => `user-${String(i).padStart(6, '0')}`);
  for (let i = 0; i < ids.length; i += 500) {
    await Promise.all(ids.slice(i, i + 500).map((userId, j) => store.roomJoined({ tenantId: 'bench', room: 'channel:big', userId, leaseId: `l${i + j}`, nodeId: 'bench-node' }, Date.now())));
  }
  const times: number[] = [];
  for (let r = 0; r < 200; r += 1) {
    const after = r % 2 === 0 ? null : ids[members / 2];
    const started = process.hrtime.bigint();
    const page = await store.listRoom('bench', 'channel:big', after, 101);
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (page.length !== 101) throw new Error('short page');
  }
  const count = await store.countRoom('bench', 'channel:big');
  console.log(`${name.padEnd(10)} a page of 100 in a room of ${count} members: median ${round(median(times), 3)} ms, max ${round(Math.max(...times), 3)} ms`);
}

async function main(): Promise<void> {
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const backends: { name: string; url: string | undefined }[] = [{ name: 'in memory', url: undefined }];
  if (await redisAvailable(redisUrl)) backends.push({ name: 'Redis', url: redisUrl });
  else console.log(`(no Redis at ${redisUrl}: the Redis rows are skipped)`);
  const prefix = `rts-room-bench:${process.pid}:`;
  console.log(`room presence: ${SOCKETS} sockets, ${ROOMS} rooms, ${ROUNDS} rounds of ${MEASURE_MS} ms, µs per join+leave (acked, client in process)`);
  for (const backend of backends) {
    const off: number[] = [];
    const on: number[] = [];
    for (let r = 0; r < ROUNDS; r += 1) {
      off.push(await measure(false, backend.url, prefix));
      on.push(await measure(true, backend.url, prefix));
    }
    const offUs = median(off);
    const onUs = median(on);
    console.log(`${backend.name.padEnd(10)} off ${round(offUs, 1)} µs   on ${round(onUs, 1)} µs   on/off ${round(onUs / offUs, 2)}x`);
  }
  await pageFigures('in memory', new InMemoryPresenceStore(), 10_000);
  const redisBackend = backends.find((b) => b.url !== undefined);
  if (redisBackend?.url !== undefined) {
    const connection = new RedisConnection({
      url: redisBackend.url, nodes: null, client: null, keyPrefix: prefix, nodeName: 'bench-node', heartbeatMs: 1000, nodeTimeoutMs: 5000, commandTimeoutMs: 5000, onUnavailable: 'fail-closed',
    });
    try {
      if (connection.commands.status !== 'ready') await new Promise<void>((resolve) => connection.commands.once('ready', () => resolve()));
      await pageFigures('Redis', new RedisPresenceStore(connection, 'bench-node'), 10_000);
    } finally {
      await connection.onApplicationShutdown();
    }
  }
  if (backends.some((b) => b.url !== undefined)) await deleteKeys(redisUrl, prefix);
}

main().then(() => process.exit(0), (error: unknown) => {
  console.error(error);
  process.exit(1);
});
