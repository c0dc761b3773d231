import { AuditBudget } from './audit-budget.js';
import type { AuditOptions, AuditTransport } from './audit-options.interface.js';
import type { AuditCheckResult, AuditSeed, AuditStatus } from './audit-report.interface.js';
import { ProbeClient } from './probe-client.js';
import { RawEngineClient, type RawEngineRefusal } from './raw-engine.client.js';
import { Redactor } from './redactor.js';
import { decodeJwt, forgeTokens, type DecodedJwt, type ForgedTokens } from './token-forgery.js';

/** What every check shares: options, budget, clients, redaction, and what earlier checks learnt. */
export class AuditContext {
  readonly budget: AuditBudget;
  readonly redactor = new Redactor();
  readonly probes: ProbeClient;
  /** The given token decoded (not verified); `null` without a token or when it is not a JWT. */
  readonly jwt: DecodedJwt | null;
  readonly forged: ForgedTokens | null;
  /** `"<nsp> <transport>"` → whether the token connected there (set by the control check). */
  readonly controls = new Map<string, boolean>();
  private readonly raws = new Set<RawEngineClient>();

  constructor(readonly options: AuditOptions) {
    this.budget = new AuditBudget(options.timeBudgetMs, options.stepTimeoutMs);
    this.redactor.add(options.token);
    this.jwt = options.token !== undefined ? decodeJwt(options.token) : null;
    this.forged = this.jwt !== null ? forgeTokens(this.jwt) : null;
    if (this.forged !== null) for (const token of Object.values(this.forged)) this.redactor.add(token);
    this.probes = new ProbeClient(options.url, options.path, this.budget, this.redactor);
  }

  /** The first namespace given: the one the single-target checks probe. */
  get primaryNamespace(): string {
    return this.options.namespaces[0] ?? '/';
  }

  /** The token's `sub` claim, when the token is a JWT that has one. */
  get subject(): string | undefined {
    const sub = this.jwt?.claims.sub;
    return typeof sub === 'string' ? sub : undefined;
  }

  /** Opens a raw Engine.IO connection within the budget. */
  async raw(transport: AuditTransport, headers?: Record<string, string>): Promise<RawEngineClient | RawEngineRefusal> {
    this.budget.takeConnection();
    const client = await RawEngineClient.open({ url: this.options.url, path: this.options.path, transport, timeoutMs: this.budget.stepMs, ...(headers !== undefined ? { headers } : {}) });
    if (!('refused' in client)) this.raws.add(client);
    return client;
  }

  /**
   * A raw connection authenticated on `nsp` with the token; a string (why not) when that fails.
   * A `CONNECTION_LIMIT` refusal is retried until the step deadline (slots are released lazily).
   */
  async rawAuthenticated(transport: AuditTransport, nsp: string): Promise<RawEngineClient | string> {
    const token = this.options.token;
    if (token === undefined) return 'no token given';
    const deadline = Date.now() + this.budget.stepMs;
    for (;;) {
      const client = await this.raw(transport);
      if ('refused' in client) return `engine handshake refused (HTTP ${client.status})`;
      const answer = await client.connect(nsp, { token });
      if (answer?.type === 0) return client;
      await client.end();
      const code = errorCode(answer?.data);
      if (code !== 'CONNECTION_LIMIT' || Date.now() >= deadline) {
        return answer === null ? 'no answer to CONNECT' : `CONNECT refused${code !== undefined ? ` (${this.redactor.clean(code, 40)})` : ''}`;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Closes every client this context opened (raw polling sessions politely, so they free their slots). */
  async closeAll(): Promise<void> {
    this.probes.closeAll();
    const raws = [...this.raws];
    this.raws.clear();
    await Promise.all(raws.map((client) => client.end()));
  }

  /** Builds a result with cleaned evidence. */
  result(id: string, target: string, status: AuditStatus, evidence: string, seed?: AuditSeed): AuditCheckResult {
    return { id, target, status, evidence: this.redactor.clean(evidence, 400), ...(seed !== undefined ? { seed } : {}) };
  }
}

/** `code` of an `{ code }` or `{ error: { code } }` body, when it is a string. */
export function errorCode(body: unknown): string | undefined {
  if (body === null || typeof body !== 'object') return undefined;
  const direct = (body as { code?: unknown }).code;
  if (typeof direct === 'string') return direct;
  const nested = (body as { error?: unknown }).error;
  if (nested !== null && typeof nested === 'object' && typeof (nested as { code?: unknown }).code === 'string') return (nested as { code: string }).code;
  return undefined;
}

/** True for an error body `{ error: ... }` (what a refused message's ack carries). */
export function isErrorBody(body: unknown): boolean {
  return body !== null && typeof body === 'object' && 'error' in body;
}

/** `40/chat,` style prefix of packets of `type` to `nsp`. */
export function packetPrefix(type: number, nsp: string): string {
  return `${type}${nsp === '/' ? '' : `${nsp},`}`;
}
