import type { OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { createAdapter, createShardedAdapter } from '@socket.io/redis-adapter';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import type { ResolvedRedisOptions } from '../interfaces/resolved-options.interface.js';
import { RedisErrorLog } from './redis-error-log.js';
import { RedisKeys } from './redis-keys.js';
import { coalesceWrites } from './write-coalescing.js';
import { DisconnectWrites } from './disconnect-writes.js';

/** What `@socket.io/redis-adapter` builds: the `adapter` server option. */
export type SocketIoAdapterFactory = ReturnType<typeof createAdapter> | ReturnType<typeof createShardedAdapter>;

/** A connection of the library: to one Redis, or to a Redis Cluster (routing each command by its key's slot). */
export type RedisClient = Redis | Cluster;

type ConnectionRole = 'commands' | 'bus-reader' | 'adapter-pub' | 'adapter-sub';

/** How long shutdown waits for each client's QUIT before cutting it. */
const QUIT_MS = 1000;

/**
 * The library's Redis connections, all opened from one URL, from the seed nodes of a Redis
 * Cluster, or by `duplicate()` of the client (a `Redis` or a `Cluster`) the app passed (which is
 * never closed here):
 * - `commands`: stores, heartbeats, bus writes. No offline queue and a command timeout, so
 *   while Redis is unreachable a call fails at once (a handshake is refused, never left hanging).
 *   The commands of one event-loop turn leave in one write (`coalesceWrites`);
 * - `reader`: the blocking reads of the cross-node bus;
 * - two for `@socket.io/redis-adapter`, created on first use: pub/sub on a single Redis, the
 *   sharded adapter (SPUBLISH/SSUBSCRIBE, one subscriber per master) on a cluster.
 * Every client has an `error` listener (rate-limited, credential-free log lines), reconnects by
 * itself forever (backoff capped at 2 s), and is closed at application shutdown, after the
 * services that use it have cleaned up.
 */
export class RedisConnection implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new RedisErrorLog();
  private readonly clients = new Map<ConnectionRole, RedisClient>();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly failureListeners = new Set<(error: unknown) => void>();
  private failuresWatched = false;
  private adapter?: SocketIoAdapterFactory;
  private closed = false;

  readonly keys: RedisKeys;
  readonly commands: RedisClient;
  readonly reader: RedisClient;
  /** True on a Redis Cluster. */
  readonly cluster: boolean;
  /** A connection's slot release and presence close, in one script when they come together. */
  readonly disconnects = new DisconnectWrites(this);

  constructor(readonly settings: ResolvedRedisOptions, private readonly nodeId: string = settings.nodeName) {
    this.keys = new RedisKeys(settings.keyPrefix);
    this.cluster = settings.nodes !== null || isCluster(settings.client);
    const timeouts: RedisOptions = { commandTimeout: settings.commandTimeoutMs, connectTimeout: Math.max(1000, settings.commandTimeoutMs) };
    this.commands = this.open('commands', { ...timeouts, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    // Handshakes of one event-loop turn share a write (and Redis's reply packet).
    coalesceWrites(this.commands);
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
      // The subscriber keeps its subscriptions across reconnects (queued until connected); on a
      // cluster, one sharded subscriber per master follows the slots through failovers.
      const sub = this.open('adapter-sub', { enableOfflineQueue: true, maxRetriesPerRequest: null, commandTimeout: undefined }, { shardedSubscribers: true });
      // Broadcasts while Redis is down are dropped (logged), never queued without bound.
      const pub = this.open('adapter-pub', { enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: this.settings.commandTimeoutMs });
      // The adapter does not handle a rejected publish/subscribe: catch them here, so an outage
      // can never become an unhandled rejection that ends the process.
      contain(pub, ['publish', 'spublish'], (error) => this.log.error('adapter-pub', error));
      contain(sub, ['subscribe', 'psubscribe', 'unsubscribe', 'punsubscribe', 'ssubscribe', 'sunsubscribe'], (error) => this.log.error('adapter-sub', error));
      this.adapter = this.cluster
        ? createShardedAdapter(pub, sub, { channelPrefix: this.keys.socketIo() })
        : createAdapter(pub, sub, { key: this.keys.socketIo() });
    }
    return this.adapter;
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.reconnectListeners.clear();
    await Promise.all([...this.clients.values()].map((client) => quit(client)));
  }

  private open(role: ConnectionRole, overrides: RedisOptions, clusterOverrides: ClusterOptions = {}): RedisClient {
    const options: RedisOptions = {
      ...overrides,
      // Visible in CLIENT LIST, so operators (and tests) can tell the connections apart.
      connectionName: `${this.settings.keyPrefix}${this.nodeId}:${role}`.replace(/[^\x21-\x7e]/g, '_'),
      retryStrategy: (times: number) => (this.closed ? null : Math.min(50 * 2 ** Math.min(times, 6), 2000)),
      reconnectOnError: () => false,
    };
    const { url, client: given, nodes } = this.settings;
    let client: RedisClient;
    if (nodes !== null || isCluster(given)) {
      const { enableOfflineQueue, retryStrategy, ...redisOptions } = options;
      const clusterOptions: ClusterOptions = {
        ...clusterOverrides,
        enableOfflineQueue,
        // While a master is failing over, a command is retried a few times (its slot moves to the
        // promoted replica), then fails like an outage: a handshake is refused, never left hanging.
        retryDelayOnFailover: 100,
        retryDelayOnClusterDown: 100,
        retryDelayOnTryAgain: 100,
        maxRedirections: 8,
        slotsRefreshInterval: 2000,
        clusterRetryStrategy: retryStrategy,
        redisOptions,
      };
      // The app's own Cluster keeps its connection settings (password, TLS, NAT map); ours only add to them.
      client = isCluster(given)
        ? given.duplicate(undefined, { ...clusterOptions, redisOptions: { ...given.options.redisOptions, ...redisOptions } })
        : new Cluster((nodes ?? []).map((n) => ({ ...n })), clusterOptions);
      client.on('node error', (error: unknown) => {
        if (!this.closed) this.log.error(role, error);
      });
    } else {
      client = given !== null ? (given.duplicate(options) as Redis) : new Redis(url as string, options);
    }
    client.on('error', (error: unknown) => {
      if (!this.closed) this.log.error(role, error);
    });
    client.on('ready', () => this.log.recovered(role));
    this.clients.set(role, client);
    return client;
  }
}

/** True for an ioredis `Cluster` (it says so itself). */
export function isCluster(client: unknown): client is Cluster {
  return client instanceof Cluster || (typeof client === 'object' && client !== null && (client as { isCluster?: unknown }).isCluster === true);
}

/** Replaces `methods` of `client` by versions whose rejections go to `onError` (resolving `undefined`). */
function contain(client: RedisClient, methods: readonly string[], onError: (error: unknown) => void): void {
  const target = client as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of methods) {
    const original = target[method].bind(client);
    target[method] = (...args: unknown[]) => {
      const result = original(...args);
      return result instanceof Promise ? result.catch((error: unknown) => { onError(error); return undefined; }) : result;
    };
  }
}

async function quit(client: RedisClient): Promise<void> {
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
