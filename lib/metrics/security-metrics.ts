import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import {
  metrics as otel,
  ValueType,
  type Attributes,
  type BatchObservableCallback,
  type Counter,
  type Histogram,
  type Meter,
  type Observable,
} from '@opentelemetry/api';
import type { Subscription } from 'rxjs';
import { REDIS_CONNECTION } from '../cluster/cluster.constants.js';
import type { RedisConnection } from '../cluster/redis-connection.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import type { SecurityErrorCode } from '../exceptions/security-error-code.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { SecurityInventoryService } from '../inventory/security-inventory.service.js';
import { errorText } from '../utils/error-text.js';
import { ThrottledLog } from '../utils/throttled-log.js';
import {
  OTHER,
  redisFailureKind,
  transportOf,
  type ConnectionTransport,
  type DisconnectReason,
  type ModerationAction,
} from './metric-labels.js';

/** The meter's instrumentation scope. */
export const METER_NAME = 'nestjs-realtime-security';

/** Handshake durations, in seconds: a refusal at step 2 takes microseconds, a Redis round trip milliseconds. */
const HANDSHAKE_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** What the connection lifecycle lets metrics read at collection time (nothing is counted per connection). */
export interface OpenConnectionSource {
  /** Calls `visit` with the namespace and engine transport name of each open socket of this node. */
  forEachOpenSocket(visit: (namespace: string, transport: unknown) => void): void;
  /** Users with at least one open connection on this node. */
  readonly onlineUsers: number;
}

/** Message counts of one (namespace, event): plain integers, read by the observable counters at collection. */
class MessageTally {
  received = 0;
  /** By refusal code; attribute sets are built once per code. */
  readonly refused = new Map<SecurityErrorCode, { count: number; readonly attributes: Attributes }>();

  constructor(readonly attributes: Attributes) {}

  refuse(code: SecurityErrorCode): void {
    let entry = this.refused.get(code);
    if (entry === undefined) {
      entry = { count: 0, attributes: Object.freeze({ ...this.attributes, code }) };
      this.refused.set(code, entry);
    }
    entry.count += 1;
  }
}

/** Everything counted per namespace, with its attribute sets built once. */
class NamespaceTable {
  readonly events = new Map<string, MessageTally>();
  readonly otherEvent: MessageTally;
  readonly accepted: Attributes;
  private readonly refusedHandshakes = new Map<SecurityErrorCode, Attributes>();
  private readonly durations = new Map<string, Attributes>();
  private readonly disconnects = new Map<DisconnectReason, Attributes>();
  private readonly transports = new Map<ConnectionTransport, Attributes>();
  readonly penalty: Attributes;

  constructor(readonly name: string, events: Iterable<string>) {
    for (const event of events) this.events.set(event, new MessageTally(Object.freeze({ namespace: name, event })));
    this.otherEvent = new MessageTally(Object.freeze({ namespace: name, event: OTHER }));
    this.accepted = Object.freeze({ namespace: name, outcome: 'accepted' });
    this.penalty = Object.freeze({ namespace: name });
  }

  tally(event: unknown): MessageTally {
    return (typeof event === 'string' ? this.events.get(event) : undefined) ?? this.otherEvent;
  }

  refusedHandshake(code: SecurityErrorCode): Attributes {
    return memo(this.refusedHandshakes, code, () => ({ namespace: this.name, outcome: 'refused', code }));
  }

  duration(outcome: 'accepted' | 'refused'): Attributes {
    return memo(this.durations, outcome, () => ({ namespace: this.name, outcome }));
  }

  disconnect(reason: DisconnectReason): Attributes {
    return memo(this.disconnects, reason, () => ({ namespace: this.name, reason }));
  }

  transport(transport: ConnectionTransport): Attributes {
    return memo(this.transports, transport, () => ({ namespace: this.name, transport }));
  }

  *tallies(): Iterable<MessageTally> {
    yield* this.events.values();
    yield this.otherEvent;
  }
}

interface Instruments {
  readonly meter: Meter;
  readonly handshakes: Counter;
  readonly handshakeDuration: Histogram;
  readonly disconnects: Counter;
  readonly rateLimitRefusals: Counter;
  readonly rateLimitPenalties: Counter;
  readonly moderation: Counter;
  readonly presenceTransitions: Counter;
  readonly redisFailures: Counter | null;
  readonly reapedNodes: Counter | null;
  readonly observables: readonly Observable[];
  readonly batch: BatchObservableCallback;
}

/**
 * OpenTelemetry metrics of every security decision, created through `@opentelemetry/api` only
 * (the app brings the SDK; with none registered every instrument is the API's no-op). Fed from a
 * few central points: the handshake pipeline, the message pipeline and exception filter, the
 * connection lifecycle, moderation, presence, the cluster services and the events stream.
 *
 * Every attribute comes from a closed set: namespaces and event names only from those the
 * gateways declare (found at bootstrap through the security inventory; anything else is
 * `(other)`), codes from `SecurityErrorCode`, reasons and transports from fixed lists. Never a
 * user or tenant id, token, address, node id or client-chosen text. Message counts are plain
 * integers read by observable counters at collection: a message costs a map lookup and an
 * increment, no allocation.
 */
@Injectable()
export class SecurityMetrics implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('RealtimeSecurity');
  private readonly failures = new ThrottledLog(this.logger);
  private readonly enabled: boolean;
  private instruments: Instruments | null = null;
  private tables = new Map<string, NamespaceTable>();
  private otherNamespace = new NamespaceTable(OTHER, []);
  /** Engine-level refusals (before any namespace): Origin at the first request, handshake rate. */
  private readonly engineRefusals = new Map<SecurityErrorCode, Attributes>();
  private readonly sources = new Set<OpenConnectionSource>();
  /** Open connections outside Socket.IO (SSE streams), by attribute set. */
  private readonly streams = new Map<Attributes, number>();
  /** Every connection attribute set reported once: reported again as 0 when empty, so a gauge falls to 0 instead of going stale. */
  private readonly connectionSeries = new Set<Attributes>();
  private clusterNodes: number | null = null;
  private redisDownSince: number | null = null;
  private redisDownMs = 0;
  private subscription?: Subscription;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    @Inject(RESOLVED_OPTIONS) private readonly options: ResolvedRealtimeSecurityOptions,
    private readonly inventory: SecurityInventoryService,
    private readonly events: SecurityEventsService,
    @Inject(REDIS_CONNECTION) private readonly redis: RedisConnection | null,
  ) {
    this.enabled = options.metrics.enabled;
  }

  /** True once instruments exist (metrics enabled and the app bootstrapped). */
  get active(): boolean {
    return this.instruments !== null;
  }

  /** The global meter provider is read here, so an app may register its SDK any time before `listen()`. */
  onApplicationBootstrap(): void {
    if (!this.enabled || this.instruments !== null) return;
    this.declare();
    try {
      this.instruments = this.create();
    } catch (error) {
      // A faulty meter provider costs the metrics, never the app.
      this.logger.warn(`metrics: the meter provider failed, running without metrics: ${errorText(error)}`);
      return;
    }
    this.subscription = this.events.events$.subscribe((event) => {
      // Refusals before any namespace exists (the engine gate): no namespace on the event.
      if (event.namespace === undefined && (event.kind === 'origin_refused' || (event.kind === 'handshake_refused' && event.code === 'RATE_LIMITED'))) {
        this.engineRefused(event.code);
      }
    });
    if (this.redis !== null) this.watchRedis(this.redis);
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    for (const cleanup of this.cleanups.splice(0)) cleanup();
    const instruments = this.instruments;
    if (instruments !== null) instruments.meter.removeBatchObservableCallback(instruments.batch, [...instruments.observables]);
    this.instruments = null;
  }

  /** The lifecycle registers itself: open connections and online users are read from it at collection. */
  watchConnections(source: OpenConnectionSource): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  /** A handshake ended: `code` null when accepted. `startedAt` is `performance.now()` at its start. */
  handshakeSettled(namespace: string, code: SecurityErrorCode | null, startedAt: number): void {
    const instruments = this.instruments;
    if (instruments === null) return;
    const table = this.table(namespace);
    try {
      instruments.handshakes.add(1, code === null ? table.accepted : table.refusedHandshake(code));
      instruments.handshakeDuration.record((performance.now() - startedAt) / 1000, table.duration(code === null ? 'accepted' : 'refused'));
      if (code === 'RATE_LIMITED') instruments.rateLimitRefusals.add(1, HANDSHAKE_SCOPE);
    } catch (error) {
      this.failed(error);
    }
  }

  /** An event from an authenticated socket reached the message pipeline. */
  messageReceived(namespace: string, event: unknown): void {
    if (this.instruments === null) return;
    this.table(namespace).tally(event).received += 1;
  }

  /** A message was answered with a refusal code (pipeline, screening, guard, pipe, throttler, handler). */
  messageRefused(namespace: string, event: unknown, code: SecurityErrorCode): void {
    const instruments = this.instruments;
    if (instruments === null) return;
    this.table(namespace).tally(event).refuse(code);
    if (code !== 'RATE_LIMITED') return;
    try {
      instruments.rateLimitRefusals.add(1, MESSAGE_SCOPE);
    } catch (error) {
      this.failed(error);
    }
  }

  /** An open connection ended. */
  disconnected(namespace: string, reason: DisconnectReason): void {
    const instruments = this.instruments;
    if (instruments === null) return;
    const table = this.table(namespace);
    try {
      instruments.disconnects.add(1, table.disconnect(reason));
      if (reason === 'rate_limited') instruments.rateLimitPenalties.add(1, table.penalty);
    } catch (error) {
      this.failed(error);
    }
  }

  /** This node applied a moderation command: `local` when issued here, `remote` when it came over the bus. */
  moderationApplied(action: ModerationAction, origin: 'local' | 'remote'): void {
    try {
      this.instruments?.moderation.add(1, MODERATION[action][origin]);
    } catch (error) {
      this.failed(error);
    }
  }

  /** This node announced a presence transition. */
  presenceTransition(status: 'online' | 'offline'): void {
    try {
      this.instruments?.presenceTransitions.add(1, status === 'online' ? ONLINE : OFFLINE);
    } catch (error) {
      this.failed(error);
    }
  }

  /** Live cluster nodes (this one included) seen at the last heartbeat round. */
  clusterNodesSeen(count: number): void {
    this.clusterNodes = count;
  }

  /** This node reaped a dead node. */
  nodeReaped(): void {
    try {
      this.instruments?.reapedNodes?.add(1);
    } catch (error) {
      this.failed(error);
    }
  }

  /**
   * A connection outside Socket.IO opened (`transport: 'sse'` for a Server-Sent Events stream);
   * `name` is a declared namespace or path (anything else counts as `(other)`). Returns the
   * function to call once when it closes.
   */
  streamOpened(name: string, transport: ConnectionTransport = 'sse'): () => void {
    const attributes = this.table(name).transport(transport);
    this.streams.set(attributes, (this.streams.get(attributes) ?? 0) + 1);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      this.streams.set(attributes, (this.streams.get(attributes) ?? 1) - 1);
    };
  }

  /** Declares a name (an SSE path, for example) beside the gateways' namespaces. Call before traffic. */
  declareNamespace(name: string, events: readonly string[] = []): void {
    if (!this.tables.has(name)) this.tables.set(name, new NamespaceTable(name, events));
  }

  /** An instrument that throws (a faulty SDK) is logged, at most once a minute; the decision it recorded stands. */
  private failed(error: unknown): void {
    this.failures.warn('record', `metrics: recording failed (the security decision is unaffected): ${errorText(error)}`);
  }

  private table(namespace: string): NamespaceTable {
    return this.tables.get(namespace) ?? this.otherNamespace;
  }

  private engineRefused(code: SecurityErrorCode): void {
    const instruments = this.instruments;
    if (instruments === null) return;
    try {
      instruments.handshakes.add(1, memo(this.engineRefusals, code, () => ({ outcome: 'refused', code })));
      if (code === 'RATE_LIMITED') instruments.rateLimitRefusals.add(1, HANDSHAKE_SCOPE);
    } catch (error) {
      this.failed(error);
    }
  }

  /** The bounded sets: every declared static namespace with its handlers' events and the refresh event. */
  private declare(): void {
    const refresh = this.options.tokens.refreshEvent;
    const byName = new Map<string, Set<string>>();
    for (const entry of this.inventory.getInventory().namespaces) {
      // A dynamic namespace's children have client-chosen names: they count as (other).
      if (entry.dynamic) continue;
      let events = byName.get(entry.namespace);
      if (events === undefined) {
        events = new Set([refresh]);
        byName.set(entry.namespace, events);
      }
      for (const handler of entry.handlers) events.add(handler.event);
    }
    if (!byName.has('/')) byName.set('/', new Set([refresh]));
    for (const [name, events] of byName) if (!this.tables.has(name)) this.tables.set(name, new NamespaceTable(name, events));
    this.otherNamespace = new NamespaceTable(OTHER, [refresh]);
  }

  private create(): Instruments {
    const provider = this.options.metrics.meterProvider ?? otel.getMeterProvider();
    const meter = provider.getMeter(METER_NAME);
    const name = (suffix: string) => `${this.options.metrics.prefix}.${suffix}`;
    const int = { valueType: ValueType.INT };
    const clustered = this.redis !== null;
    const connections = meter.createObservableUpDownCounter(name('connections.open'), { ...int, unit: '{connection}', description: 'Open connections of this node, by namespace and transport (websocket, polling, sse)' });
    const online = meter.createObservableUpDownCounter(name('presence.online_users'), { ...int, unit: '{user}', description: 'Users with at least one open connection on this node' });
    const received = meter.createObservableCounter(name('messages'), { ...int, unit: '{message}', description: 'Events received from authenticated sockets, by namespace and declared event name ((other) for any other name)' });
    const refused = meter.createObservableCounter(name('messages.refused'), { ...int, unit: '{message}', description: 'Events answered with a refusal, by namespace, declared event name and code' });
    const observables: Observable[] = [connections, online, received, refused];
    let nodes: Observable | null = null;
    let unavailable: Observable | null = null;
    if (clustered) {
      nodes = meter.createObservableUpDownCounter(name('cluster.nodes'), { ...int, unit: '{node}', description: 'Live cluster nodes seen by this node at its last heartbeat round' });
      unavailable = meter.createObservableCounter(name('redis.unavailable'), { unit: 's', description: 'Time the Redis command connection of this node was unavailable' });
      observables.push(nodes, unavailable);
    }
    const batch: BatchObservableCallback = (result) => {
      for (const [attributes, count] of this.countConnections()) result.observe(connections, count, attributes);
      let users = 0;
      for (const source of this.sources) users += source.onlineUsers;
      result.observe(online, users);
      for (const table of [...this.tables.values(), this.otherNamespace]) {
        for (const tally of table.tallies()) {
          // Declared events of declared namespaces are reported from zero; (other) once it has happened.
          if ((tally !== table.otherEvent && table !== this.otherNamespace) || tally.received > 0) result.observe(received, tally.received, tally.attributes);
          for (const entry of tally.refused.values()) result.observe(refused, entry.count, entry.attributes);
        }
      }
      if (nodes !== null && this.clusterNodes !== null) result.observe(nodes, this.clusterNodes);
      if (unavailable !== null) result.observe(unavailable, (this.redisDownMs + (this.redisDownSince === null ? 0 : Date.now() - this.redisDownSince)) / 1000);
    };
    meter.addBatchObservableCallback(batch, observables);
    return {
      meter,
      observables,
      batch,
      handshakes: meter.createCounter(name('handshakes'), { ...int, unit: '{handshake}', description: 'Socket.IO handshakes, by namespace, outcome (accepted, refused) and refusal code' }),
      handshakeDuration: meter.createHistogram(name('handshake.duration'), {
        unit: 's',
        description: 'Time from CONNECT to the handshake answer, by namespace and outcome',
        advice: { explicitBucketBoundaries: HANDSHAKE_BUCKETS },
      }),
      disconnects: meter.createCounter(name('disconnects'), { ...int, unit: '{connection}', description: 'Open connections that ended, by namespace and reason' }),
      rateLimitRefusals: meter.createCounter(name('rate_limit.refusals'), { ...int, unit: '{refusal}', description: 'RATE_LIMITED answers, by scope (message: per-user budget; handshake: per-address rate)' }),
      rateLimitPenalties: meter.createCounter(name('rate_limit.penalties'), { ...int, unit: '{connection}', description: 'Sockets disconnected for repeated rate-limit refusals, by namespace' }),
      moderation: meter.createCounter(name('moderation.actions'), { ...int, unit: '{action}', description: 'Moderation commands applied by this node (ban, unban, disconnect, permissions), issued here (local) or by another node (remote)' }),
      presenceTransitions: meter.createCounter(name('presence.transitions'), { ...int, unit: '{transition}', description: 'Online/offline transitions this node announced (after flap damping)' }),
      redisFailures: clustered ? meter.createCounter(name('redis.command_failures'), { ...int, unit: '{command}', description: 'Failed Redis commands of this node, by kind (timeout, unavailable, error)' }) : null,
      reapedNodes: clustered ? meter.createCounter(name('cluster.reaped_nodes'), { ...int, unit: '{node}', description: 'Dead nodes this node reaped' }) : null,
    };
  }

  private countConnections(): Map<Attributes, number> {
    const counts = new Map<Attributes, number>();
    for (const attributes of this.connectionSeries) counts.set(attributes, 0);
    const visit = (namespace: string, transport: unknown) => {
      const attributes = this.table(namespace).transport(transportOf(transport));
      counts.set(attributes, (counts.get(attributes) ?? 0) + 1);
    };
    for (const source of this.sources) source.forEachOpenSocket(visit);
    for (const [attributes, count] of this.streams) counts.set(attributes, (counts.get(attributes) ?? 0) + count);
    for (const attributes of counts.keys()) this.connectionSeries.add(attributes);
    return counts;
  }

  /** Command failures (through the connection's failure hook) and time unavailable (from the client's status events). */
  private watchRedis(redis: RedisConnection): void {
    const commands = redis.commands;
    if (commands.status !== 'ready') this.redisDownSince = Date.now();
    const down = () => {
      this.redisDownSince ??= Date.now();
    };
    const up = () => {
      if (this.redisDownSince !== null) this.redisDownMs += Date.now() - this.redisDownSince;
      this.redisDownSince = null;
    };
    commands.on('close', down);
    commands.on('end', down);
    commands.on('ready', up);
    const stopFailures = redis.onCommandFailure((error) => {
      const kind = redisFailureKind(error);
      if (kind === null) return;
      try {
        this.instruments?.redisFailures?.add(1, REDIS_FAILURES[kind]);
      } catch (failure) {
        this.failed(failure);
      }
    });
    this.cleanups.push(() => {
      commands.off('close', down);
      commands.off('end', down);
      commands.off('ready', up);
      stopFailures();
    });
  }
}

function memo<K, V extends Attributes>(map: Map<K, Attributes>, key: K, build: () => V): Attributes {
  let attributes = map.get(key);
  if (attributes === undefined) {
    attributes = Object.freeze(build());
    map.set(key, attributes);
  }
  return attributes;
}

const MESSAGE_SCOPE: Attributes = Object.freeze({ scope: 'message' });
const HANDSHAKE_SCOPE: Attributes = Object.freeze({ scope: 'handshake' });
const ONLINE: Attributes = Object.freeze({ status: 'online' });
const OFFLINE: Attributes = Object.freeze({ status: 'offline' });
const MODERATION: Readonly<Record<ModerationAction, Readonly<Record<'local' | 'remote', Attributes>>>> = Object.freeze({
  ban: { local: Object.freeze({ action: 'ban', origin: 'local' }), remote: Object.freeze({ action: 'ban', origin: 'remote' }) },
  unban: { local: Object.freeze({ action: 'unban', origin: 'local' }), remote: Object.freeze({ action: 'unban', origin: 'remote' }) },
  disconnect: { local: Object.freeze({ action: 'disconnect', origin: 'local' }), remote: Object.freeze({ action: 'disconnect', origin: 'remote' }) },
  permissions: { local: Object.freeze({ action: 'permissions', origin: 'local' }), remote: Object.freeze({ action: 'permissions', origin: 'remote' }) },
});
const REDIS_FAILURES: Readonly<Record<string, Attributes>> = Object.freeze({
  timeout: Object.freeze({ kind: 'timeout' }),
  unavailable: Object.freeze({ kind: 'unavailable' }),
  error: Object.freeze({ kind: 'error' }),
});
