import { isIP } from 'node:net';
import { normalizeAddress } from '../utils/normalize-address.js';
import type {
  JwksLoader,
  JwksRefreshOptions,
  JwtAlgorithm,
  OriginEnforcement,
  RealtimeSecurityOptions,
  RoomPresenceOptions,
} from '../interfaces/realtime-security-options.interface.js';
import { ROOM_PRESENCE_STORE_METHODS } from '../interfaces/presence-store.interface.js';
import type { ResolvedJwksOptions, ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { createPublicKey } from 'node:crypto';
import { hostname } from 'node:os';
import { normalizeOrigin } from '../auth/origin.policy.js';
import { DEFAULT_RESOURCE_ID_PATTERN } from '../authorization/resource-id.validator.js';
import { InvalidRealtimeSecurityOptionsError as Invalid } from './invalid-options.error.js';
import { resolveSseOptions } from '../sse/sse-options.resolver.js';

const ALGORITHMS: ReadonlySet<string> = new Set<JwtAlgorithm>([
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512',
  'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA',
]);
/** RFC 7518 §3.2: an HS256 key at least as long as its hash output. */
const MIN_HMAC_SECRET_BYTES = 32;
const ENFORCEMENTS: ReadonlySet<string> = new Set<OriginEnforcement>(['cookie', 'browser', 'always']);
const EVENT_NAME = /^[A-Za-z0-9:_.-]{1,64}$/;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

/** Checks an integer option against an inclusive range, or returns its default. */
export function intInRange(option: string, value: unknown, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new Invalid(option, `must be an integer from ${min} to ${max}`, `Set it within that range or leave it out for ${fallback}.`);
  }
  return value;
}

function bool(option: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new Invalid(option, 'must be true or false', `Leave it out for ${fallback}.`);
  return value;
}

function stringList(option: string, value: unknown): readonly string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== 'string' || v.length === 0)) {
    throw new Invalid(option, 'must be a non-empty array of non-empty strings', 'List the accepted values, or leave it out to skip the check.');
  }
  return Object.freeze([...value]);
}

function resolveJwt(options: RealtimeSecurityOptions): ResolvedRealtimeSecurityOptions['jwt'] {
  const jwt = options.jwt;
  if (jwt === undefined) {
    if (options.authenticator === undefined) {
      throw new Invalid('jwt', 'is missing and no `authenticator` is given', 'Pass `jwt: { secret }` (or `publicKey`, or `jwks`), or a custom `authenticator`.');
    }
    return null;
  }
  const hasJwks = jwt.jwks !== undefined && jwt.jwks !== null;
  const algorithms = jwt.algorithms ?? (hasJwks ? ['RS256'] : ['HS256']);
  if (!Array.isArray(algorithms) || algorithms.length === 0) {
    throw new Invalid('jwt.algorithms', 'is empty', "Pin the algorithms your issuer signs with, e.g. ['HS256'].");
  }
  for (const alg of algorithms as string[]) {
    if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
      throw new Invalid('jwt.algorithms', "contains 'none' (unsigned tokens)", "Remove it; pin a signing algorithm such as 'HS256'.");
    }
    if (!ALGORITHMS.has(alg)) {
      throw new Invalid('jwt.algorithms', `contains the unknown algorithm '${String(alg)}'`, `Use some of: ${[...ALGORITHMS].join(', ')}.`);
    }
  }
  const hmac = algorithms.some((a) => a.startsWith('HS'));
  const asymmetric = algorithms.some((a) => !a.startsWith('HS'));
  if (hmac && asymmetric) {
    throw new Invalid('jwt.algorithms', 'mixes HMAC and public-key algorithms', 'Pin one family: a token signed with a public key as HMAC secret must never verify.');
  }
  if (hasJwks) {
    if (hmac) {
      throw new Invalid('jwt.algorithms', 'pins an HMAC algorithm while `jwt.jwks` is set',
        "A key set holds public keys: pin the algorithms your issuer signs with, e.g. ['RS256'] or ['ES256', 'EdDSA'].");
    }
    if (jwt.secret !== undefined || jwt.publicKey !== undefined) {
      throw new Invalid(jwt.secret !== undefined ? 'jwt.secret' : 'jwt.publicKey', 'is set together with `jwt.jwks`',
        'Remove it: with a key set, tokens are verified against the keys of that set only.');
    }
  }
  const keyMissing = (k: unknown) => k === undefined || k === null || (typeof k === 'string' && k.length === 0) || (Buffer.isBuffer(k) && k.length === 0);
  if (hmac && keyMissing(jwt.secret)) {
    throw new Invalid('jwt.secret', 'is missing or empty', 'Pass the HMAC key your tokens are signed with (at least 32 random bytes).');
  }
  const secret: unknown = jwt.secret;
  if (hmac && (!(typeof secret === 'string' || Buffer.isBuffer(secret)) || Buffer.byteLength(secret) < MIN_HMAC_SECRET_BYTES)) {
    throw new Invalid('jwt.secret', `is not a string or Buffer of at least ${MIN_HMAC_SECRET_BYTES} bytes`,
      'A short HMAC key can be brute-forced from a single token: use at least 32 random bytes (e.g. `openssl rand -base64 48`).');
  }
  if (asymmetric && !hasJwks && keyMissing(jwt.publicKey)) {
    throw new Invalid('jwt.publicKey', 'is missing or empty', 'Pass the PEM public key matching your issuer, or its key set as `jwt.jwks`.');
  }
  if (algorithms.includes('EdDSA') && !hasJwks && !isEd25519PublicKey(jwt.publicKey)) {
    throw new Invalid('jwt.publicKey', 'is not an Ed25519 public key while EdDSA is pinned',
      "Pass the issuer's Ed25519 public key in PEM (-----BEGIN PUBLIC KEY-----), or pin the algorithm that key is for.");
  }
  const claim = (name: string, value: unknown, fallback: string) => {
    if (value === undefined) return fallback;
    if (typeof value !== 'string' || value.length === 0) throw new Invalid(name, 'must be a non-empty claim name', `Leave it out for '${fallback}'.`);
    return value;
  };
  return Object.freeze({
    secret: hmac ? jwt.secret : undefined,
    publicKey: asymmetric && !hasJwks ? jwt.publicKey : undefined,
    jwks: hasJwks ? resolveJwks(jwt.jwks, jwt.jwksRefresh) : undefined,
    algorithms: Object.freeze([...algorithms]),
    issuer: stringList('jwt.issuer', jwt.issuer),
    audience: stringList('jwt.audience', jwt.audience),
    clockToleranceSeconds: intInRange('jwt.clockToleranceSeconds', jwt.clockToleranceSeconds, 0, 300, 5),
    tenantClaim: claim('jwt.tenantClaim', jwt.tenantClaim, 'tenant'),
    permissionsClaim: claim('jwt.permissionsClaim', jwt.permissionsClaim, 'perms'),
  });
}

function isEd25519PublicKey(material: unknown): boolean {
  if (typeof material !== 'string' && !Buffer.isBuffer(material)) return false;
  try {
    const key = createPublicKey(material);
    return key.type === 'public' && key.asymmetricKeyType === 'ed25519';
  } catch {
    return false;
  }
}

/** Hosts a key set may be fetched from over plain `http:` (nothing on the way can swap the keys). */
function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

function resolveJwks(source: unknown, refresh: unknown): ResolvedJwksOptions {
  let resolved: URL | JwksLoader;
  if (typeof source === 'function') resolved = source as JwksLoader;
  else {
    let url: URL | null = null;
    try {
      url = source instanceof URL ? new URL(source.href) : typeof source === 'string' ? new URL(source) : null;
    } catch {
      url = null;
    }
    // Never echo the URL: it may carry credentials.
    if (url === null || !(url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname)))) {
      throw new Invalid('jwt.jwks', 'is not an https:// URL (http:// only to localhost) or a function returning a key set',
        "Pass your issuer's jwks_uri (from /.well-known/openid-configuration), e.g. 'https://idp.example.com/.well-known/jwks.json'.");
    }
    resolved = url;
  }
  if (refresh !== undefined && (refresh === null || typeof refresh !== 'object')) {
    throw new Invalid('jwt.jwksRefresh', 'must be an object', 'Pass `{ intervalMs, cooldownMs, timeoutMs }` or leave it out for the defaults.');
  }
  const r = (refresh ?? {}) as JwksRefreshOptions;
  return Object.freeze({
    source: resolved,
    intervalMs: intInRange('jwt.jwksRefresh.intervalMs', r.intervalMs, 1000, 86_400_000, 300_000),
    cooldownMs: intInRange('jwt.jwksRefresh.cooldownMs', r.cooldownMs, 100, 600_000, 5000),
    timeoutMs: intInRange('jwt.jwksRefresh.timeoutMs', r.timeoutMs, 100, 60_000, 3000),
  });
}

function resolveOrigins(options: RealtimeSecurityOptions, cookieName: string | null): ResolvedRealtimeSecurityOptions['origins'] {
  const allowedRaw = options.origins?.allowed ?? [];
  if (!Array.isArray(allowedRaw)) {
    throw new Invalid('origins.allowed', 'must be an array of origins', "List exact origins such as 'https://app.example.com'.");
  }
  const allowed = new Set<string>();
  for (const origin of allowedRaw) {
    const normalized = typeof origin === 'string' ? normalizeOrigin(origin) : null;
    if (normalized === null || normalized !== origin.replace(/\/$/, '').toLowerCase()) {
      throw new Invalid('origins.allowed', `has an entry that is not an exact origin (${JSON.stringify(String(origin)).slice(0, 80)})`,
        "Write each as scheme://host[:port] with no path and no wildcard, e.g. 'https://app.example.com'.");
    }
    allowed.add(normalized);
  }
  const enforce = options.origins?.enforce ?? 'cookie';
  if (!ENFORCEMENTS.has(enforce)) {
    throw new Invalid('origins.enforce', "must be 'cookie', 'browser' or 'always'", "Leave it out for 'cookie'.");
  }
  if (cookieName !== null && allowed.size === 0) {
    throw new Invalid('origins.allowed', 'is empty while cookie authentication is on',
      'Browsers send cookies from any site: list the origins of your own pages, or turn `credentials.cookieName` off.');
  }
  if (enforce === 'always' && allowed.size === 0) {
    throw new Invalid('origins.allowed', "is empty while `origins.enforce` is 'always'", 'List the origins allowed to connect.');
  }
  return Object.freeze({ allowed, enforce });
}

/** Socket.IO's own event names: a broadcast under one of them would never reach a client handler. */
const RESERVED_EVENTS: ReadonlySet<string> = new Set(['connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener', 'error']);
const NAMESPACE_NAME = /^\/[A-Za-z0-9/_.:-]{0,127}$/;
const PERMISSION = /^[A-Za-z0-9_.-]{1,64}:[A-Za-z0-9_.-]{1,64}(?::[A-Za-z0-9_.-]{1,128})?$/;

/** A pluggable backend: a class (built through Nest DI) or an instance with every method. */
function pluggable<T>(option: string, value: unknown, methods: readonly string[], contract: string): T | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'function') return value as T;
  const missing = typeof value === 'object' ? methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function') : methods;
  if (missing.length > 0) {
    throw new Invalid(option, `is not a store (missing ${missing.join(', ')})`, `Pass a class or instance implementing ${contract}, or leave it out for the in-memory store.`);
  }
  return value as T;
}

function resolvePresence(options: RealtimeSecurityOptions): ResolvedRealtimeSecurityOptions['presence'] {
  const presence = options.presence ?? {};
  const broadcast = presence.broadcast ?? {};
  const namespacesRaw = broadcast.namespaces ?? [];
  if (!Array.isArray(namespacesRaw) || namespacesRaw.some((n) => typeof n !== 'string' || !NAMESPACE_NAME.test(n))) {
    throw new Invalid('presence.broadcast.namespaces', 'must be an array of namespace names such as \'/chat\'',
      'List the exact namespaces whose sockets may receive presence updates, or leave it out to turn the broadcast off.');
  }
  const event = broadcast.event ?? 'presence_update';
  if (typeof event !== 'string' || !EVENT_NAME.test(event) || RESERVED_EVENTS.has(event)) {
    throw new Invalid('presence.broadcast.event', 'must be 1..64 characters of letters, digits and :_.- and not a Socket.IO reserved name',
      "Leave it out for 'presence_update'.");
  }
  const permission = broadcast.permission ?? 'presence:read';
  if (typeof permission !== 'string' || !PERMISSION.test(permission)) {
    throw new Invalid('presence.broadcast.permission', 'must be a permission such as \'presence:read\' (no wildcards)', "Leave it out for 'presence:read'.");
  }
  const audience = broadcast.audience ?? null;
  if (audience !== null && typeof audience !== 'function') {
    throw new Invalid('presence.broadcast.audience', 'must be a function (viewer, subject) => boolean', 'Leave it out to require `presence.broadcast.permission`.');
  }
  return Object.freeze({
    flapWindowMs: intInRange('presence.flapWindowMs', presence.flapWindowMs, 0, 60_000, 2000),
    broadcast: Object.freeze({ namespaces: new Set<string>(namespacesRaw), event, permission, audience }),
    store: pluggable<NonNullable<ResolvedRealtimeSecurityOptions['presence']['store']>>('presence.store', presence.store,
      ['connectionOpened', 'connectionClosed', 'get', 'listOnline', 'countOnline', 'setPreference', 'getPreference',
        ...(presence.rooms?.enabled === true ? ROOM_PRESENCE_STORE_METHODS : [])], 'PresenceStore'),
    rooms: resolveRoomPresence(presence.rooms),
  });
}

function resolveRoomPresence(rooms: RoomPresenceOptions | undefined): ResolvedRealtimeSecurityOptions['presence']['rooms'] {
  const value = rooms ?? {};
  if (typeof value !== 'object' || value === null) {
    throw new Invalid('presence.rooms', 'must be an object', 'Pass { enabled: true } to track who is in each room, or leave it out.');
  }
  const enabled = value.enabled ?? false;
  if (typeof enabled !== 'boolean') throw new Invalid('presence.rooms.enabled', 'must be a boolean', 'Set true or false, or leave it out for false.');
  const metadata = value.metadata ?? null;
  if (metadata !== null && typeof metadata !== 'function') {
    throw new Invalid('presence.rooms.metadata', 'must be a function (principal, room) => fields', 'Leave it out for members without fields.');
  }
  const diff = value.diff ?? {};
  const namespaces = diff.namespaces ?? [];
  if (!Array.isArray(namespaces) || namespaces.some((n) => typeof n !== 'string' || !NAMESPACE_NAME.test(n))) {
    throw new Invalid('presence.rooms.diff.namespaces', 'must be an array of namespace names such as \'/chat\'', 'List the namespaces whose room members receive diffs, or leave it out to turn diffs off.');
  }
  if (namespaces.length > 0 && !enabled) {
    throw new Invalid('presence.rooms.diff.namespaces', 'needs room presence', 'Set presence.rooms.enabled to true, or leave diff out.');
  }
  const event = diff.event ?? 'presence_diff';
  if (typeof event !== 'string' || !EVENT_NAME.test(event) || RESERVED_EVENTS.has(event)) {
    throw new Invalid('presence.rooms.diff.event', 'must be 1..64 characters of letters, digits and :_.- and not a Socket.IO reserved name', "Leave it out for 'presence_diff'.");
  }
  const permission = diff.permission ?? 'presence:read';
  if (typeof permission !== 'string' || !PERMISSION.test(permission) || permission.split(':').length !== 2) {
    throw new Invalid('presence.rooms.diff.permission', 'must be a permission such as \'presence:read\' (resource:action; the room id is added)', "Leave it out for 'presence:read'.");
  }
  return Object.freeze({
    enabled,
    maxRoomsPerConnection: intInRange('presence.rooms.maxRoomsPerConnection', value.maxRoomsPerConnection, 1, 10_000, 100),
    metadata,
    diff: Object.freeze({
      namespaces: new Set<string>(namespaces),
      event,
      permission,
      intervalMs: intInRange('presence.rooms.diff.intervalMs', diff.intervalMs, 10, 10_000, 100),
      snapshotMaxMembers: intInRange('presence.rooms.diff.snapshotMaxMembers', diff.snapshotMaxMembers, 0, 100_000, 1000),
    }),
  });
}

function resolveAuthorization(options: RealtimeSecurityOptions): ResolvedRealtimeSecurityOptions['authorization'] {
  const authorization = options.authorization ?? {};
  const resolver = authorization.permissionResolver ?? null;
  if (resolver !== null && typeof resolver !== 'function' && typeof (resolver as { isAllowed?: unknown }).isAllowed !== 'function') {
    throw new Invalid('authorization.permissionResolver', 'has no isAllowed() method', 'Pass a class or instance implementing PermissionResolver, or leave it out for the claims resolver.');
  }
  const pattern = authorization.resourceIdPattern ?? DEFAULT_RESOURCE_ID_PATTERN;
  if (!(pattern instanceof RegExp) || pattern.global || pattern.sticky) {
    throw new Invalid('authorization.resourceIdPattern', 'must be a RegExp without the g or y flag',
      'Pass an anchored pattern such as /^[a-z0-9-]{1,64}$/, or leave it out for the default.');
  }
  return Object.freeze({ permissionResolver: resolver, resourceIdPattern: pattern });
}

function resolveRecovery(options: RealtimeSecurityOptions): ResolvedRealtimeSecurityOptions['recovery'] {
  const recovery: unknown = options.recovery ?? {};
  if (typeof recovery !== 'object' || recovery === null) {
    throw new Invalid('recovery', 'must be an object', 'Pass `{ authorizeRoom }` or leave it out (recovered non-tenant rooms are dropped).');
  }
  const authorizeRoom: unknown = (recovery as { authorizeRoom?: unknown }).authorizeRoom ?? null;
  if (authorizeRoom !== null && typeof authorizeRoom !== 'function') {
    throw new Invalid('recovery.authorizeRoom', 'must be a function ({ principal, room, namespace }) => boolean | Promise<boolean>',
      'Leave it out to drop every recovered room that is not a TenantRooms room.');
  }
  return Object.freeze({ authorizeRoom: authorizeRoom as ResolvedRealtimeSecurityOptions['recovery']['authorizeRoom'] });
}

function trustedProxies(value: unknown): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value) || value.length > 100 || value.some((v) => typeof v !== 'string' || isIP(v) === 0)) {
    throw new Invalid('rateLimit.trustedProxies', 'must be an array of at most 100 IP addresses',
      'List the exact addresses of your reverse proxies (e.g. [\'10.0.0.5\']), or leave it out so X-Forwarded-For is never trusted.');
  }
  return Object.freeze(value.map((address: string) => normalizeAddress(address)));
}

function resolveRateLimit(options: RealtimeSecurityOptions): ResolvedRealtimeSecurityOptions['rateLimit'] {
  const rate = options.rateLimit ?? {};
  if (typeof rate !== 'object' || rate === null) {
    throw new Invalid('rateLimit', 'must be an object', 'Pass `{ messageLimit, handshakesPerAddress, ... }` or leave it out for the defaults.');
  }
  return Object.freeze({
    messageLimit: intInRange('rateLimit.messageLimit', rate.messageLimit, 0, 1_000_000, 100),
    messageWindowMs: intInRange('rateLimit.messageWindowMs', rate.messageWindowMs, 1000, 3_600_000, 10_000),
    strikes: intInRange('rateLimit.strikes', rate.strikes, 0, 1000, 5),
    strikeGraceMs: intInRange('rateLimit.strikeGraceMs', rate.strikeGraceMs, 0, 60_000, 2000),
    storage: pluggable<NonNullable<ResolvedRealtimeSecurityOptions['rateLimit']['storage']>>('rateLimit.storage', rate.storage,
      ['increment'], "@nestjs/throttler's ThrottlerStorage"),
    handshakesPerAddress: intInRange('rateLimit.handshakesPerAddress', rate.handshakesPerAddress, 0, 1_000_000, 600),
    handshakeWindowMs: intInRange('rateLimit.handshakeWindowMs', rate.handshakeWindowMs, 1000, 3_600_000, 60_000),
    maxTrackedAddresses: intInRange('rateLimit.maxTrackedAddresses', rate.maxTrackedAddresses, 100, 10_000_000, 100_000),
    connectsPerUser: intInRange('rateLimit.connectsPerUser', rate.connectsPerUser, 0, 1_000_000, 600),
    refusedConnectsPerConnection: intInRange('rateLimit.refusedConnectsPerConnection', rate.refusedConnectsPerConnection, 1, 100, 3),
    trustedProxies: trustedProxies(rate.trustedProxies),
  });
}

const KEY_PREFIX = /^[^\s{}*?[\]]{1,64}$/;
const NODE_NAME = /^[A-Za-z0-9._:-]{1,64}$/;

const SEED = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9._-]{1,253})):(\d{1,5})$/;

/** `host:port` seeds of a Redis Cluster (`[v6]:port` for IPv6). */
function resolveSeeds(nodes: unknown): readonly { host: string; port: number }[] {
  const fix = "Write them as ['10.0.0.1:7000', 'redis-2.internal:7000'] (1..64 entries).";
  if (!Array.isArray(nodes) || nodes.length < 1 || nodes.length > 64) throw new Invalid('redis.nodes', 'must be a list of 1..64 host:port seeds', fix);
  return Object.freeze(nodes.map((node: unknown, i) => {
    const match = typeof node === 'string' ? SEED.exec(node) : null;
    const port = match === null ? NaN : Number(match[3]);
    // Never echo the entry: a mistyped one may be a URL with a password.
    if (match === null || !(port >= 1 && port <= 65535)) throw new Invalid(`redis.nodes[${i}]`, 'is not host:port', fix);
    return Object.freeze({ host: (match[1] ?? match[2]) as string, port });
  }));
}

function resolveRedis(options: RealtimeSecurityOptions): ResolvedRealtimeSecurityOptions['redis'] {
  const redis = options.redis;
  if (redis === undefined || redis === null) return null;
  if (typeof redis !== 'object') {
    throw new Invalid('redis', 'must be an object', "Pass `{ url: 'redis://127.0.0.1:6379' }` (or `{ nodes }` of a Redis Cluster, or `{ client }`), or leave it out for single-node mode.");
  }
  const { url, client, nodes } = redis;
  if ([url, client, nodes].filter((v) => v !== undefined).length !== 1) {
    throw new Invalid('redis', 'needs exactly one of `url`, `nodes` and `client`',
      "Pass `url: 'redis://host:6379'` (one Redis), `nodes: ['host:7000', …]` (a Redis Cluster) or an ioredis `client` (`Redis` or `Cluster`).");
  }
  const seeds = nodes === undefined ? null : resolveSeeds(nodes);
  if (url !== undefined) {
    let protocol: string | null = null;
    try {
      protocol = typeof url === 'string' ? new URL(url).protocol : null;
    } catch {
      protocol = null;
    }
    // Never echo the URL: it may carry a password.
    if (protocol !== 'redis:' && protocol !== 'rediss:') {
      throw new Invalid('redis.url', 'is not a redis:// or rediss:// URL', "Write it as 'redis://[:password@]host:port[/db]' ('rediss://' for TLS).");
    }
  }
  if (client !== undefined && (client === null || typeof (client as { duplicate?: unknown }).duplicate !== 'function')) {
    throw new Invalid('redis.client', 'is not an ioredis client', "Pass `new Redis(...)` or `new Cluster([...])` from 'ioredis', or use `url` or `nodes`.");
  }
  const keyPrefix = redis.keyPrefix ?? 'rts:';
  if (typeof keyPrefix !== 'string' || !KEY_PREFIX.test(keyPrefix)) {
    throw new Invalid('redis.keyPrefix', 'must be 1..64 characters without spaces, braces or *?[]', "Leave it out for 'rts:'.");
  }
  const nodeName = redis.nodeId ?? `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._:-]/g, '-').slice(0, 64);
  if (typeof nodeName !== 'string' || !NODE_NAME.test(nodeName)) {
    throw new Invalid('redis.nodeId', 'must be 1..64 letters, digits or ._:-', 'Leave it out for the host name and process id.');
  }
  const heartbeatMs = intInRange('redis.heartbeatMs', redis.heartbeatMs, 200, 10_000, 1000);
  const nodeTimeoutMs = intInRange('redis.nodeTimeoutMs', redis.nodeTimeoutMs, 600, 60_000, Math.max(5000, 3 * heartbeatMs));
  if (nodeTimeoutMs < 3 * heartbeatMs) {
    throw new Invalid('redis.nodeTimeoutMs', `must be at least 3 × redis.heartbeatMs (${3 * heartbeatMs})`,
      'A shorter timeout declares live nodes dead after one late beat: raise it or beat more often.');
  }
  const onUnavailable = redis.onUnavailable ?? 'fail-closed';
  if (onUnavailable !== 'fail-closed' && onUnavailable !== 'fail-open') {
    throw new Invalid('redis.onUnavailable', "must be 'fail-closed' or 'fail-open'", "Leave it out for 'fail-closed'.");
  }
  return Object.freeze({
    url: url ?? null,
    nodes: seeds,
    client: client ?? null,
    keyPrefix,
    nodeName,
    heartbeatMs,
    nodeTimeoutMs,
    commandTimeoutMs: intInRange('redis.commandTimeoutMs', redis.commandTimeoutMs, 100, 10_000, 2000),
    onUnavailable,
  });
}

const METRIC_PREFIX = /^[A-Za-z][A-Za-z0-9_.]{0,63}$/;

function resolveMetrics(options: RealtimeSecurityOptions): ResolvedRealtimeSecurityOptions['metrics'] {
  const metrics = options.metrics ?? {};
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
    throw new Invalid('metrics', 'must be an object', "Use { enabled, prefix, meterProvider }, or leave it out.");
  }
  const prefix = metrics.prefix ?? 'realtime_security';
  if (typeof prefix !== 'string' || !METRIC_PREFIX.test(prefix) || prefix.endsWith('.') || prefix.includes('..')) {
    throw new Invalid('metrics.prefix', 'must be a letter, then at most 63 letters, digits, `_` or `.` (not ending with `.`)', "Use a name such as 'chat_realtime', or leave it out for 'realtime_security'.");
  }
  const meterProvider = metrics.meterProvider ?? null;
  if (meterProvider !== null && typeof (meterProvider as { getMeter?: unknown }).getMeter !== 'function') {
    throw new Invalid('metrics.meterProvider', 'has no getMeter() method', 'Pass an OpenTelemetry MeterProvider (for example from @opentelemetry/sdk-metrics), or leave it out to use the global one.');
  }
  return Object.freeze({ enabled: bool('metrics.enabled', metrics.enabled, true), prefix, meterProvider });
}

/** Validates options once, at start-up, and fills in every default. */
export function resolveOptions(options: RealtimeSecurityOptions | undefined | null): ResolvedRealtimeSecurityOptions {
  if (options === undefined || options === null || typeof options !== 'object') {
    throw new Invalid('options', 'are missing', 'Call RealtimeSecurityModule.forRoot({ jwt: { secret } }) or forRootAsync({ useFactory }).');
  }
  const jwt = resolveJwt(options);
  const authenticator = options.authenticator ?? null;
  if (authenticator !== null && typeof authenticator !== 'function' && typeof (authenticator as { authenticate?: unknown }).authenticate !== 'function') {
    throw new Invalid('authenticator', 'has no authenticate() method', 'Pass a class or instance implementing RealtimeAuthenticator.');
  }
  const cookieNameRaw = options.credentials?.cookieName;
  if (cookieNameRaw !== undefined && (typeof cookieNameRaw !== 'string' || !COOKIE_NAME.test(cookieNameRaw))) {
    throw new Invalid('credentials.cookieName', 'is not a valid cookie name', "Use a plain token such as 'rt_session'.");
  }
  const cookieName = cookieNameRaw ?? null;
  const credentials = Object.freeze({
    authPayload: bool('credentials.authPayload', options.credentials?.authPayload, true),
    authorizationHeader: bool('credentials.authorizationHeader', options.credentials?.authorizationHeader, true),
    cookieName,
  });
  if (!credentials.authPayload && !credentials.authorizationHeader && cookieName === null) {
    throw new Invalid('credentials', 'accept no credential at all', 'Keep `authPayload` or `authorizationHeader` on, or set `cookieName`.');
  }
  const refreshEvent = options.tokens?.refreshEvent ?? 'auth:refresh';
  if (typeof refreshEvent !== 'string' || !EVENT_NAME.test(refreshEvent)) {
    throw new Invalid('tokens.refreshEvent', 'must be 1..64 characters of letters, digits and :_.-', "Leave it out for 'auth:refresh'.");
  }
  const transport = options.transport ?? {};
  const pingIntervalMs = intInRange('transport.pingIntervalMs', transport.pingIntervalMs, 1000, 300_000, 25_000);
  const connectTimeoutMs = intInRange('transport.connectTimeoutMs', transport.connectTimeoutMs, 100, 120_000, 10_000);
  if (jwt?.jwks !== undefined && jwt.jwks.cooldownMs + jwt.jwks.timeoutMs >= connectTimeoutMs) {
    throw new Invalid('jwt.jwksRefresh.cooldownMs', `plus jwt.jwksRefresh.timeoutMs (${jwt.jwks.cooldownMs + jwt.jwks.timeoutMs} ms) is not below transport.connectTimeoutMs (${connectTimeoutMs} ms)`,
      'A handshake with a new kid waits up to that long for the next fetch and would be closed first: shorten the cooldown or the timeout, or raise transport.connectTimeoutMs.');
  }
  return Object.freeze({
    jwt,
    authenticator,
    credentials,
    origins: resolveOrigins(options, cookieName),
    tokens: Object.freeze({
      graceMs: intInRange('tokens.graceSeconds', options.tokens?.graceSeconds, 0, 300, 0) * 1000,
      refreshEvent,
    }),
    connections: Object.freeze({
      maxPerUser: intInRange('connections.maxPerUser', options.connections?.maxPerUser, 1, 10, 5),
      maxTotal: intInRange('connections.maxTotal', options.connections?.maxTotal, 1, 1_000_000, 10_000),
      store: pluggable<NonNullable<ResolvedRealtimeSecurityOptions['connections']['store']>>('connections.store', options.connections?.store,
        ['acquire', 'release', 'count'], 'ConnectionLeaseStore'),
    }),
    presence: resolvePresence(options),
    transport: Object.freeze({
      maxMessageBytes: intInRange('transport.maxMessageBytes', transport.maxMessageBytes, 1024, 16 * 1024 * 1024, 64 * 1024),
      connectTimeoutMs,
      pingIntervalMs,
      pingTimeoutMs: intInRange('transport.pingTimeoutMs', transport.pingTimeoutMs, 1000, 300_000, 20_000),
      perMessageDeflate: bool('transport.perMessageDeflate', transport.perMessageDeflate, false),
      maxAttachments: intInRange('transport.maxAttachments', transport.maxAttachments, 0, 100, 10),
      maxBufferedBytes: intInRange('transport.maxBufferedBytes', transport.maxBufferedBytes, 64 * 1024, 256 * 1024 * 1024, 1024 * 1024),
    }),
    rateLimit: resolveRateLimit(options),
    logSecurityEvents: bool('logSecurityEvents', options.logSecurityEvents, true),
    authorization: resolveAuthorization(options),
    recovery: resolveRecovery(options),
    logInventory: bool('logInventory', options.logInventory, true),
    redis: resolveRedis(options),
    metrics: resolveMetrics(options),
    sse: resolveSseOptions(options.sse),
  });
}
