import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** The sample's settings, read once from the environment (see SAMPLE_CONTRACT.md). */
export interface SampleConfig {
  readonly port: number;
  readonly host: string;
  readonly jwtSecret: string;
  /** True when JWT_SECRET was not set and a random key was generated. */
  readonly generatedSecret: boolean;
  /** `JWKS_URL`: tokens are verified against this key set (RS256, ES256, EdDSA) instead of `JWT_SECRET`. */
  readonly jwksUrl: string | null;
  /** `JWT_ISSUER`: the required `iss`, in either mode. */
  readonly jwtIssuer: string | null;
  /** `JWT_AUDIENCE`: the required `aud`, in either mode. */
  readonly jwtAudience: string | null;
  readonly allowedOrigins: string[];
  readonly maxConnectionsPerUser: number;
  readonly redisUrl: string | null;
  /** `REDIS_CLUSTER_NODES`: `host:port` seeds of a Redis Cluster (cluster mode on it instead of `REDIS_URL`). */
  readonly redisClusterNodes: string[] | null;
  readonly nodeId: string;
  readonly messageRatePerUser: number;
  readonly handshakeRatePerAddress: number;
  /** `METRICS_PORT`: Prometheus text at `GET http://127.0.0.1:<port>/metrics` (127.0.0.1 only); 0: off. */
  readonly metricsPort: number;
  /** `TRUSTED_PROXIES`: comma-separated IPs of reverse proxies whose X-Forwarded-For is trusted (none by default). */
  readonly trustedProxies: string[];
  /** DEMO ONLY: `POST /demo/login` signs in as a demo user without a password. `DEMO_LOGIN=off` removes it. */
  readonly demoLogin: boolean;
  /** `POST /chat/stream-ticket` and `?ticket=` on `GET /chat/notifications`; `STREAM_TICKETS=off` removes them. */
  readonly streamTickets: boolean;
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw.slice(0, 32))}).`);
  }
  return value;
}

export function loadSampleConfig(env: NodeJS.ProcessEnv = process.env): SampleConfig {
  const port = intFromEnv(env, 'PORT', 3000, 0, 65535);
  const host = env.HOST && env.HOST.length > 0 ? env.HOST : '127.0.0.1';
  const secret = env.JWT_SECRET && env.JWT_SECRET.length > 0 ? env.JWT_SECRET : null;
  const jwksUrl = stringFromEnv(env, 'JWKS_URL');
  const origins = env.ALLOWED_ORIGINS && env.ALLOWED_ORIGINS.trim().length > 0
    ? env.ALLOWED_ORIGINS.split(',').map((o) => o.trim()).filter((o) => o.length > 0)
    : null;
  if (env.REDIS_URL && env.REDIS_URL.length > 0 && listFromEnv(env, 'REDIS_CLUSTER_NODES') !== null) {
    throw new Error('Set REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both.');
  }
  return {
    port,
    host,
    jwtSecret: secret ?? randomBytes(32).toString('base64url'),
    // With JWKS_URL no HMAC key is used (nor generated with a warning).
    generatedSecret: secret === null && jwksUrl === null,
    jwksUrl,
    jwtIssuer: stringFromEnv(env, 'JWT_ISSUER'),
    jwtAudience: stringFromEnv(env, 'JWT_AUDIENCE'),
    // Resolved against the real port in main.ts when PORT=0.
    allowedOrigins: origins ?? [],
    maxConnectionsPerUser: intFromEnv(env, 'MAX_CONNECTIONS_PER_USER', 3, 1, 10),
    redisUrl: env.REDIS_URL && env.REDIS_URL.length > 0 ? env.REDIS_URL : null,
    redisClusterNodes: listFromEnv(env, 'REDIS_CLUSTER_NODES'),
    nodeId: env.NODE_ID && env.NODE_ID.length > 0 ? env.NODE_ID : `${hostname()}-${process.pid}`,
    messageRatePerUser: intFromEnv(env, 'MESSAGE_RATE_PER_USER', 100, 1, 1_000_000),
    handshakeRatePerAddress: intFromEnv(env, 'HANDSHAKE_RATE_PER_ADDRESS', 600, 0, 1_000_000),
    trustedProxies: (env.TRUSTED_PROXIES ?? '').split(',').map((p) => p.trim()).filter((p) => p.length > 0),
    demoLogin: switchFromEnv(env, 'DEMO_LOGIN', true),
    metricsPort: intFromEnv(env, 'METRICS_PORT', 9464, 0, 65535),
    streamTickets: switchFromEnv(env, 'STREAM_TICKETS', true),
  };
}

function listFromEnv(env: NodeJS.ProcessEnv, name: string): string[] | null {
  const items = (env[name] ?? '').split(',').map((item) => item.trim()).filter((item) => item.length > 0);
  return items.length > 0 ? items : null;
}

function stringFromEnv(env: NodeJS.ProcessEnv, name: string): string | null {
  const raw = env[name]?.trim();
  return raw === undefined || raw === '' ? null : raw;
}

function switchFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'on' || raw === 'true' || raw === '1') return true;
  if (raw === 'off' || raw === 'false' || raw === '0') return false;
  throw new Error(`${name} must be "on" or "off" (got ${JSON.stringify(raw.slice(0, 32))}).`);
}

/** Default allowed origins for a port: the sample's own page on localhost and 127.0.0.1. */
export function defaultOrigins(port: number): string[] {
  return [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
}

export const SAMPLE_CONFIG = Symbol('SampleConfig');
