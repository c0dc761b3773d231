import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis, type RedisOptions } from 'ioredis';
import type { ResolvedRedisOptions } from '../interfaces/resolved-options.interface.js';
import { RedisErrorLog } from './redis-error-log.js';
import { RedisKeys } from './redis-keys.js';

/** What `@socket.io/redis-adapter` builds: the `adapter` server option. */
export type SocketIoAdapterFactory = ReturnType<typeof createAdapter>;

type ConnectionRole = 'commands' | 'bus-reader' | 'adapter-pub' | 'adapter-sub';

/** How long shutdown waits for each client's QUIT before cutting it. */
const QUIT_MS = 1000;

/**
 * The library's Redis connections, all opened from one URL or by `duplicate()` of the client
 * the app passed (which is never closed here):
 * - `commands`: stores, heartbeats, bus writes. No offline queue and a command timeout, so
 *   while Redis is unreachable a call fails at once (a handshake is refused, never left hanging);
 * - `reader`: the blocking reads of the cross-node bus;
 * - two for `@socket.io/redis-adapter` (pub/sub), created on first use.
 * Every client has an `error` listener (rate-limited, credential-free log lines), reconnects by
 * itself forever (backoff capped at 2 s), and is closed at application shutdown, after the
 * services that use it have cleaned up.
 */
export class RedisConnection implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new RedisErrorLog();
  private readonly clients = new Map<ConnectionRole, Redis>();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly failureListeners = new Set<(error: unknown) => void>();
  private failuresWatched = false;
  private adapter?: SocketIoAdapterFactory;
  private closed = false;

  readonly keys: RedisKeys;
  readonly commands: Redis;
  readonly reader: Redis;

  constructor(readonly settings: ResolvedRedisOptions, private readonly nodeId: string = settings.nodeName) {
    this.keys = new RedisKeys(settings.keyPrefix);
    const timeouts: RedisOptions = { commandTimeout: settings.commandTimeoutMs, connectTimeout: Math.max(1000, settings.commandTimeoutMs) };
    this.commands = this.open('commands', { ...timeouts, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    // Blocking reads: no command timeout (the block itself is bounded), fail fast while down.
    this.reader = this.open('bus-reader', { connectTimeout: timeouts.connectTimeout, commandTimeout: undefined, enableOfflineQueue: false, maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false });
    let everReady = false;
    this.commands.on('ready', () => {
      if (everReady) for (const listener of [...this.reconnectListeners]) listener();
      everReady = true;
    });
  }

  /**
   * Start-up waits (at most `commandTimeoutMs`) for the command connection, so the first
   * handshakes do not race it. Redis being down does not stop the app: it starts fail-closed
   * (or fail-open) and recovers by itself.
   */
  async onModuleInit(): Promise<void> {
    if (this.commands.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.commands.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, this.settings.commandTimeoutMs);
      timer.unref();
      this.commands.once('ready', done);
    });
  }

  /** True while the command connection is up. */
  get available(): boolean {
    return this.commands.status === 'ready';
  }

  /** Calls `listener` each time the command connection is ready again after a loss (Redis restarted, network back). */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /**
   * Calls `listener` with the error of each command of the command connection that fails
   * (timeout, connection down, error reply); returns the function that removes it. For metrics:
   * the caller still gets the rejection as before.
   */
  onCommandFailure(listener: (error: unknown) => void): () => void {
    this.failureListeners.add(listener);
    if (!this.failuresWatched) {
      this.failuresWatched = true;
      const client = this.commands as unknown as { sendCommand: (...args: unknown[]) => unknown };
      const original = client.sendCommand.bind(this.commands);
      const report = (error: unknown) => {
        for (const each of this.failureListeners) each(error);
      };
      client.sendCommand = (...args: unknown[]) => {
        const result = original(...args);
        if (result instanceof Promise) result.catch(report);
        return result;
      };
    }
    return () => this.failureListeners.delete(listener);
  }

  /** The Socket.IO adapter over Redis pub/sub (broadcasts, rooms and `disconnectSockets()` across nodes). */
  socketIoAdapter(): SocketIoAdapterFactory {
    if (this.adapter === undefined) {
      // The subscriber keeps its subscriptions across reconnects (queued until connected).
      const sub = this.open('adapter-sub', { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined });
      // Broadcasts while Redis is down are dropped (logged), never queued without bound.
      const pub = this.open('adapter-pub', { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: this.settings.commandTimeoutMs });
      // The adapter does not handle a rejected publish/subscribe: catch them here, so an outage
      // can never become an unhandled rejection that ends the process.
      contain(pub, ['publish'], (error) => this.log.error('adapter-pub', error));
      contain(sub, ['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe'], (error) => this.log.error('adapter-sub', error));
      this.adapter = createAdapter(pub, sub, { key: this.keys.socketIo() });
    }
    return this.adapter;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reconnectListeners.clear();
    await Promise.all([...this.clients.values()].map((client) => quit(client)));
  }

  private open(role: ConnectionRole, overrides: RedisOptions): Redis {
    const options: RedisOptions = {
      ...overrides,
      // Visible in CLIENT LIST, so operators (and tests) can tell the connections apart.
      connectionName: `${this.settings.keyPrefix}${this.nodeId}:${role}`.replace(/[^\x21-\x7e]/g, '_'),
      retryStrategy: (times: number) => (this.closed ? null : Math.min(50 * 2 ** Math.min(times, 6), 2000)),
      reconnectOnError: () => false,
    };
    const { url, client: given } = this.settings;
    const client: Redis = given !== null ? (given.duplicate(options) as Redis) : new Redis(url as string, options);
    client.on('error', (error: unknown) => {
      if (!this.closed) this.log.error(role, error);
    });
    client.on('ready', () => this.log.recovered(role));
    this.clients.set(role, client);
    return client;
  }
}

/** Replaces `methods` of `client` by versions whose rejections go to `onError` (resolving `undefined`). */
function contain(client: Redis, methods: readonly string[], onError: (error: unknown) => void): void {
  const target = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of methods) {
    const original = target[method].bind(client);
    target[method] = (...args: unknown[]) => {
      const result = original(...args);
      return result instanceof Promise ? result.catch((error: unknown) => { onError(error); return undefined; }) : result;
    };
  }
}

async function quit(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.status === 'ready' ? client.quit().then(() => undefined) : Promise.resolve(),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, QUIT_MS); }),
    ]);
  } catch {
    // Closing anyway.
  } finally {
    clearTimeout(timer);
    client.disconnect(false);
  }
}
