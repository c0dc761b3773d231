import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { Namespace, Server } from 'socket.io';
import { ConnectionLeaseStore, PresenceService, SecureIoAdapter, userKey } from '../../lib/index.js';
import { ConnectionLifecycle } from '../../lib/connections/connection-lifecycle.js';
import { AppModule } from '../../sample/app.module.js';
import { ChatGateway } from '../../sample/chat/chat.gateway.js';
import { loadSampleConfig } from '../../sample/config/sample-config.js';
import { serveIpc } from '../support/ipc.js';

/**
 * The soak's server: the sample app (in-memory state), started with `--expose-gc` as a child of
 * `soak.main.ts`, answering over IPC only (nothing is added to the sample's HTTP surface):
 * `stats` (heap, RSS, engine clients, sockets, the lifecycle's indexes), `gc` (a full collection,
 * then `stats`), `leftovers` (lease and presence entries still held for the given users).
 * Its JWT secret and limits come from the environment the parent gives it.
 */
export interface SoakServerStats {
  readonly heapUsed: number;
  readonly rss: number;
  readonly external: number;
  readonly engineClients: number;
  readonly chatSockets: number;
  readonly lifecycle: { leases: number; sessions: number; users: number; tenants: number; expiryTimers: number };
  readonly leaseUsers: number;
  readonly online: number;
}

export interface SoakLeftovers {
  readonly leases: number;
  readonly online: string[];
}

async function main(): Promise<void> {
  const config = loadSampleConfig();
  const app = await NestFactory.create(AppModule.register(config), { logger: ['error', 'warn'] });
  app.useWebSocketAdapter(new SecureIoAdapter(app));
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  const lifecycle = app.get(ConnectionLifecycle);
  const leases = app.get<ConnectionLeaseStore & { userCount?: number }>(ConnectionLeaseStore);
  const presence = app.get(PresenceService);
  const tenant = process.env.SOAK_TENANT ?? 'soak';
  // The Socket.IO server, through the sample's /chat gateway (its namespace knows its server).
  const server = (): Server | undefined => (app.get(ChatGateway) as unknown as { server?: Namespace }).server?.server;

  const stats = async (): Promise<SoakServerStats> => {
    const memory = process.memoryUsage();
    const s = lifecycle.stats;
    return {
      heapUsed: memory.heapUsed,
      rss: memory.rss,
      external: memory.external,
      engineClients: server()?.engine.clientsCount ?? -1,
      chatSockets: server()?.of('/chat').sockets.size ?? -1,
      lifecycle: { leases: s.leases, sessions: s.sessions, users: s.users, tenants: s.tenants, expiryTimers: s.expiryTimers },
      leaseUsers: leases.userCount ?? -1,
      online: await presence.countOnline(tenant),
    };
  };

  serveIpc({
    stats,
    gc: async () => {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc === undefined) throw new Error('start the soak server with --expose-gc');
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((resolve) => setImmediate(resolve));
      }
      return stats();
    },
    leftovers: async (users: string[]): Promise<SoakLeftovers> => {
      let held = 0;
      const online: string[] = [];
      for (const user of users) {
        held += await leases.count(userKey(tenant, user));
        if (await presence.isOnline(tenant, user)) online.push(user);
      }
      return { leases: held, online };
    },
    close: async () => {
      await app.close();
      setImmediate(() => process.exit(0));
      return true;
    },
  });
  process.send?.({ ready: true, port });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
