import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AuditCheck } from '../audit-check.interface.js';
import type { AuditContext } from '../audit-context.js';
import { AuditSeed, type AuditCheckResult } from '../audit-report.interface.js';

/** What one stream request got, before any event byte was read. */
interface StreamOutcome {
  readonly status: number;
  readonly streaming: boolean;
  readonly code?: string;
  readonly cacheControl?: string;
  readonly accelBuffering?: string;
  /** Open until `close()`, for a stream that was accepted. */
  close(): void;
}

const FOREIGN_ORIGIN = 'http://audit-foreign.invalid';
const SEED_MAX_CEILING = 10;

/**
 * The `--sse-url` checks (skipped without it): an unauthenticated stream, a token in the query
 * string, a session cookie from a foreign Origin and without one, the cache headers, and the
 * per-user ceiling with the release of its slots. A stream passes a refusal check when it is
 * refused before any `text/event-stream` byte.
 */
export const sseCheck: AuditCheck = {
  id: 'sse',
  async run(ctx) {
    const path = ctx.options.sseUrl;
    if (path === undefined) return [];
    const target = `GET ${path}`;
    const auth = AuditSeed.WEBSOCKET_AUTH_REQUIRED;
    const limits = AuditSeed.PER_USER_CONNECTION_LIMITS;
    const results: AuditCheckResult[] = [];
    const token = ctx.options.token;
    const refused = (o: StreamOutcome) => !o.streaming && o.status >= 400;
    const describe = (o: StreamOutcome) => `HTTP ${o.status}${o.code !== undefined ? ` ${o.code}` : ''}${o.streaming ? ' text/event-stream' : ''}`;

    const anonymous = await open(ctx, path, {});
    anonymous.close();
    results.push(ctx.result('sse.unauthenticated', target, refused(anonymous) ? 'PASS' : 'FAIL', `no credential: ${describe(anonymous)}`, auth));

    if (token === undefined) {
      for (const id of ['sse.query-token', 'sse.cookie-origin', 'sse.cache-headers', 'sse.connection-ceiling']) results.push(ctx.result(id, target, 'N/A', 'no --token given', id === 'sse.connection-ceiling' ? limits : auth));
      return results;
    }
    const query = await open(ctx, `${path}${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`, {});
    query.close();
    results.push(ctx.result('sse.query-token', target, refused(query) ? 'PASS' : 'FAIL', `token in the query string: ${describe(query)}`, auth));

    const cookieName = ctx.options.cookieName;
    if (cookieName === undefined) {
      results.push(ctx.result('sse.cookie-origin', target, 'N/A', 'no --cookie-name given', auth));
    } else {
      const cookie = `${cookieName}=${token}`;
      const foreign = await open(ctx, path, { cookie, origin: FOREIGN_ORIGIN });
      foreign.close();
      const none = await open(ctx, path, { cookie });
      none.close();
      const ok = refused(foreign) && refused(none);
      results.push(ctx.result('sse.cookie-origin', target, ok ? 'PASS' : 'FAIL', `session cookie from a foreign Origin: ${describe(foreign)}; without Origin: ${describe(none)}`, auth));
    }

    const accepted = await open(ctx, path, { authorization: `Bearer ${token}` });
    accepted.close();
    if (!accepted.streaming) {
      results.push(ctx.result('sse.cache-headers', target, 'N/A', `the token could not open a stream: ${describe(accepted)}`));
    } else {
      const cache = (accepted.cacheControl ?? '').toLowerCase();
      const ok = cache.includes('no-store');
      results.push(ctx.result('sse.cache-headers', target, ok ? 'PASS' : 'FAIL',
        `Cache-Control: ${accepted.cacheControl ?? '(none)'}; X-Accel-Buffering: ${accepted.accelBuffering ?? '(none)'}`));
    }

    results.push(...(await ceiling(ctx, path, token, target, limits)));
    return results;
  },
};

async function ceiling(ctx: AuditContext, path: string, token: string, target: string, seed: AuditSeed): Promise<AuditCheckResult[]> {
  const expected = ctx.options.maxConnections;
  const attempts = (expected ?? SEED_MAX_CEILING) + 1;
  const open_: StreamOutcome[] = [];
  let refusal: { at: number; outcome: StreamOutcome } | null = null;
  try {
    for (let i = 1; i <= attempts; i += 1) {
      const outcome = await open(ctx, path, { authorization: `Bearer ${token}` });
      if (!outcome.streaming) {
        refusal = { at: i, outcome };
        break;
      }
      open_.push(outcome);
    }
  } finally {
    for (const stream of open_) stream.close();
  }
  const results: AuditCheckResult[] = [];
  const id = 'sse.connection-ceiling';
  if (refusal === null) results.push(ctx.result(id, target, 'FAIL', `${open_.length} streams of one user accepted: no per-user ceiling${expected !== undefined ? ` at ${expected}` : ` at or below ${SEED_MAX_CEILING}`}`, seed));
  else if (refusal.at === 1) results.push(ctx.result(id, target, 'N/A', `the token could not open a single stream: HTTP ${refusal.outcome.status}`, seed));
  else if (expected === undefined || refusal.at === expected + 1) results.push(ctx.result(id, target, 'PASS', `per-user ceiling ${open_.length}: stream ${refusal.at} refused with HTTP ${refusal.outcome.status}${refusal.outcome.code !== undefined ? ` ${refusal.outcome.code}` : ''}`, seed));
  else results.push(ctx.result(id, target, 'FAIL', `stream ${refusal.at} refused although --max-connections is ${expected}: the ceiling is lower than expected, or other connections of this user are open`, seed));
  if (open_.length === 0) return results;
  // The slots come back once the streams are closed: poll within the step timeout.
  const started = Date.now();
  let again: StreamOutcome;
  do {
    again = await open(ctx, path, { authorization: `Bearer ${token}` });
    again.close();
  } while (!again.streaming && Date.now() - started < ctx.budget.stepMs && (await pause(50)));
  results.push(again.streaming
    ? ctx.result('sse.slot-release', target, 'PASS', `after closing ${open_.length} streams a new one was accepted within ${Date.now() - started} ms`, seed)
    : ctx.result('sse.slot-release', target, 'FAIL', `after closing ${open_.length} streams a new one was still refused (HTTP ${again.status}): slots not released`, seed));
  return results;
}

function pause(ms: number): Promise<true> {
  return new Promise((resolve) => setTimeout(() => resolve(true), ms));
}

/** One GET of the stream; resolves at the response headers (reading the JSON body of a refusal). */
function open(ctx: AuditContext, path: string, headers: Record<string, string>): Promise<StreamOutcome> {
  ctx.budget.takeConnection();
  const url = new URL(path, ctx.options.url);
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    let req: ClientRequest | undefined;
    const close = (): void => { req?.destroy(); };
    req = request(url, { method: 'GET', agent: false, timeout: ctx.budget.stepMs, headers: { accept: 'text/event-stream', ...headers } }, (res: IncomingMessage) => {
      const streaming = res.statusCode === 200 && (res.headers['content-type'] ?? '').startsWith('text/event-stream');
      const base = {
        status: res.statusCode ?? 0, streaming, close,
        ...(typeof res.headers['cache-control'] === 'string' ? { cacheControl: res.headers['cache-control'] } : {}),
        ...(typeof res.headers['x-accel-buffering'] === 'string' ? { accelBuffering: res.headers['x-accel-buffering'] } : {}),
      };
      if (streaming) {
        resolve(base);
        return;
      }
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => { if (body.length < 4096) body += chunk; });
      res.on('end', () => {
        let code: string | undefined;
        try {
          const parsed = JSON.parse(body) as { error?: { code?: unknown }; code?: unknown };
          const raw = parsed.error?.code ?? parsed.code;
          if (typeof raw === 'string' && /^[A-Z_]{1,40}$/.test(raw)) code = raw;
        } catch {
          // not JSON: no code
        }
        resolve({ ...base, ...(code !== undefined ? { code } : {}) });
      });
      res.on('error', () => resolve(base));
    });
    req.on('timeout', () => req?.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, streaming: false, close }));
    req.end();
  });
}
