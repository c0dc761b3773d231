import { parseArgs } from 'node:util';
import type { AuditOptions } from './audit-options.interface.js';
import { AuditUsageError } from './audit-usage.error.js';
import { isAllowedTarget } from './target.guard.js';

/** What the command line asks for. */
export type AuditCommand =
  | { readonly kind: 'help' }
  | { readonly kind: 'audit'; readonly options: AuditOptions; readonly json: boolean };

/** Environment variable read when `--token` is absent. */
export const AUDIT_TOKEN_ENV = 'REALTIME_AUDIT_TOKEN';

const NAMESPACE = /^\/[A-Za-z0-9_\-./:~]{0,200}$/;
const EVENT_NAME = /^[\x21-\x7e]{1,100}$/;
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,128}$/;
const MAX_NAMESPACES = 10;

/**
 * Parses `audit --url ... [options]` (the leading `audit` is optional). Throws `AuditUsageError`
 * with a message naming the option and the fix; refuses a non-loopback host unless it is given
 * with `--allow-host`.
 */
export function parseAuditArguments(argv: readonly string[], env: Readonly<Record<string, string | undefined>> = {}): AuditCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    throw new AuditUsageError(`${(error as Error).message}. Run with --help for the options.`);
  }
  const { values, positionals } = parsed;
  if (values.help === true) return { kind: 'help' };
  if (positionals.length > 1 || (positionals.length === 1 && positionals[0] !== 'audit')) {
    throw new AuditUsageError(`unknown command ${JSON.stringify(positionals.join(' ')).slice(0, 60)}: the only command is "audit". Run with --help.`);
  }

  const url = parseUrl(values.url);
  const allowedHosts = values['allow-host'] ?? [];
  if (!isAllowedTarget(url, allowedHosts)) {
    throw new AuditUsageError(
      `--url: ${url.hostname} is not a loopback host. The audit only probes localhost, 127.0.0.0/8 and ::1 by default; ` +
        `to probe this host on purpose (it must be yours), add --allow-host ${url.hostname}.`,
    );
  }

  const namespaces = values.namespace ?? ['/'];
  if (namespaces.length > MAX_NAMESPACES) throw new AuditUsageError(`--namespace: at most ${MAX_NAMESPACES} namespaces per run.`);
  for (const nsp of namespaces) {
    if (!NAMESPACE.test(nsp)) throw new AuditUsageError('--namespace: a namespace starts with "/" and holds letters, digits and _-./:~ only (e.g. /chat).');
  }

  const token = values.token ?? env[AUDIT_TOKEN_ENV];
  if (token !== undefined && (token.length === 0 || token.length > 8192 || /\s/.test(token))) {
    throw new AuditUsageError(`--token (or ${AUDIT_TOKEN_ENV}): give one token, 1..8192 characters, without whitespace.`);
  }

  const cookieName = values['cookie-name'];
  if (cookieName !== undefined && !COOKIE_NAME.test(cookieName)) throw new AuditUsageError('--cookie-name: not a valid cookie name (RFC 6265 token characters).');

  const allowedOrigin = values['allowed-origin'] ?? url.origin;
  if (values['allowed-origin'] !== undefined) {
    let origin: URL;
    try {
      origin = new URL(allowedOrigin);
    } catch {
      throw new AuditUsageError('--allowed-origin: give an origin such as http://127.0.0.1:3000 (scheme, host, optional port).');
    }
    if ((origin.protocol !== 'http:' && origin.protocol !== 'https:') || origin.origin !== allowedOrigin.replace(/\/$/, '')) {
      throw new AuditUsageError('--allowed-origin: give an origin such as http://127.0.0.1:3000 (scheme, host, optional port; no path).');
    }
  }

  const floodEvent = values['flood-event'] ?? 'audit:flood';
  if (!EVENT_NAME.test(floodEvent)) throw new AuditUsageError('--flood-event: 1..100 printable ASCII characters, no spaces.');
  let floodPayload: unknown = {};
  if (values['flood-payload'] !== undefined) {
    try {
      floodPayload = JSON.parse(values['flood-payload']) as unknown;
    } catch {
      throw new AuditUsageError('--flood-payload: not valid JSON (e.g. \'{"channelId":"general"}\').');
    }
    if (values['flood-payload'].length > 4096) throw new AuditUsageError('--flood-payload: at most 4096 characters.');
  }

  const path = values.path ?? '/socket.io/';
  if (!/^\/[A-Za-z0-9_\-./]{0,100}$/.test(path)) throw new AuditUsageError('--path: a URL path such as /socket.io/.');

  const sseUrl = values['sse-url'];
  if (sseUrl !== undefined && !/^\/[A-Za-z0-9_\-./:~%]{0,200}$/.test(sseUrl)) {
    throw new AuditUsageError('--sse-url: the path of a Server-Sent Events route on --url, such as /chat/notifications (no query string).');
  }

  const options: AuditOptions = {
    url: url.origin,
    path: path.endsWith('/') ? path : `${path}/`,
    namespaces: [...new Set(namespaces)],
    ...(token !== undefined ? { token } : {}),
    ...(cookieName !== undefined ? { cookieName } : {}),
    allowedOrigin: allowedOrigin.replace(/\/$/, ''),
    ...(values['max-connections'] !== undefined ? { maxConnections: integer('--max-connections', values['max-connections'], 1, 10) } : {}),
    oversizeBytes: integer('--oversize-bytes', values['oversize-bytes'], 1024, 8 * 1024 * 1024, 131072),
    floodCount: integer('--flood-count', values['flood-count'], 10, 2000, 300),
    floodEvent,
    floodPayload,
    timeBudgetMs: integer('--timeout', values.timeout, 5, 600, 60) * 1000,
    stepTimeoutMs: integer('--step-timeout', values['step-timeout'], 200, 30000, 3000),
    settleMs: integer('--settle', values.settle, 50, 5000, 400),
    ...(sseUrl !== undefined ? { sseUrl } : {}),
    allowedHosts,
  };
  return { kind: 'audit', options, json: values.json === true };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      url: { type: 'string' },
      path: { type: 'string' },
      namespace: { type: 'string', multiple: true },
      token: { type: 'string' },
      'cookie-name': { type: 'string' },
      'allowed-origin': { type: 'string' },
      'max-connections': { type: 'string' },
      'oversize-bytes': { type: 'string' },
      'flood-count': { type: 'string' },
      'flood-event': { type: 'string' },
      'flood-payload': { type: 'string' },
      timeout: { type: 'string' },
      'step-timeout': { type: 'string' },
      settle: { type: 'string' },
      'allow-host': { type: 'string', multiple: true },
      'sse-url': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function parseUrl(value: string | undefined): URL {
  if (value === undefined) throw new AuditUsageError('--url is required: the base URL of the server, e.g. --url http://127.0.0.1:3000.');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new AuditUsageError('--url: not a URL. Give the base URL of the server, e.g. http://127.0.0.1:3000.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new AuditUsageError('--url: use http:// or https:// (the audit tries both transports itself).');
  if (url.username !== '' || url.password !== '') throw new AuditUsageError('--url: remove the user name and password from the URL.');
  return url;
}

function integer(option: string, value: string | undefined, min: number, max: number, fallback?: number): number {
  if (value === undefined) {
    if (fallback === undefined) throw new AuditUsageError(`${option}: missing value.`);
    return fallback;
  }
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) throw new AuditUsageError(`${option}: give a whole number from ${min} to ${max}.`);
  return n;
}
