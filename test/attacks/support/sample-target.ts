import type { INestApplication, Provider } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { io, type Socket } from 'socket.io-client';
import { SecureIoAdapter } from '../../../lib/index.js';
import { AppModule } from '../../../sample/app.module.js';
import { loadSampleConfig } from '../../../sample/config/sample-config.js';
import { CapturingLogger } from '../../support/capturing-logger.js';
import { closeAllClients } from '../../support/clients.js';
import { RawEngineClient } from '../../support/raw-engine.js';
import { signToken } from '../../support/tokens.js';
import { waitFor } from '../../support/wait.js';

/** The JWT secret of the sample under attack. */
export const ATTACK_SECRET = 'attack-suite-secret-0123456789-abcdefghijklmnop';
/** The one Origin a cookie may come from. */
export const ALLOWED_ORIGIN = 'http://app.example.com';
/** The tenant of the control client and of most attacks. */
export const TENANT = 'acme';

export interface PresenceRow {
  userId: string;
  status: string;
  connections: number;
  lastSeen: number | null;
}

export interface TargetOptions {
  /** Extra sample environment (`MESSAGE_RATE_PER_USER`, `HANDSHAKE_RATE_PER_ADDRESS`...). */
  env?: Record<string, string>;
  /** Replaces library providers (faults injected into the sample's own wiring, THREATS 28). */
  override?: { provide: symbol; useFactory: (...deps: never[]) => unknown; inject?: (symbol | string)[] }[];
  /** Extra providers beside the sample's (a gateway someone forgot to decorate, THREATS 18). */
  providers?: Provider[];
}

/**
 * The sample app (`AppModule.register(config)`, the library's `SecureIoAdapter`, 127.0.0.1:0) with
 * everything the THREATS.md preamble asks of each case: a control client connected before the
 * attack, the logs captured, every token and engine `sid` the test used remembered, and the
 * moderation routes to read presence and connection counts.
 */
export class SampleTarget {
  readonly logger = new CapturingLogger();
  /** Every credential and engine sid the attack used: none may appear in a log line. */
  readonly secrets = new Set<string>();
  url = '';
  app!: INestApplication;
  control!: Socket;
  private baseline: PresenceRow[] = [];

  /** Starts the sample and connects the control client (user `control`, channel `general`). */
  static async start(options: TargetOptions = {}): Promise<SampleTarget> {
    const target = new SampleTarget();
    const config = loadSampleConfig({
      JWT_SECRET: ATTACK_SECRET,
      ALLOWED_ORIGINS: ALLOWED_ORIGIN,
      DEMO_LOGIN: 'off',
      HANDSHAKE_RATE_PER_ADDRESS: '0',
      ...options.env,
    });
    let builder = Test.createTestingModule({ imports: [AppModule.register(config)], providers: options.providers ?? [] });
    for (const o of options.override ?? []) builder = builder.overrideProvider(o.provide).useFactory({ factory: o.useFactory as (...a: unknown[]) => unknown, inject: o.inject ?? [] });
    const moduleRef = await builder.compile();
    target.app = moduleRef.createNestApplication({ logger: target.logger });
    target.app.useWebSocketAdapter(new SecureIoAdapter(target.app));
    await target.app.listen(0, '127.0.0.1');
    target.url = `http://127.0.0.1:${(target.app.getHttpServer().address() as { port: number }).port}`;
    // Not in the clients.ts registry: closeAllClients() after each case leaves it connected.
    target.control = io(`${target.url}/chat`, { forceNew: true, reconnection: false, transports: ['websocket'], auth: { token: target.token('control', ['channel:*', 'presence:read']) } });
    await new Promise<void>((resolve, reject) => {
      target.control.once('connect', () => resolve());
      target.control.once('connect_error', reject);
    });
    target.secrets.add(target.control.io.engine.id);
    const joined = (await target.control.emitWithAck('channel:join', { channelId: 'general' })) as { ok?: boolean };
    if (joined.ok !== true) throw new Error(`control could not join: ${JSON.stringify(joined)}`);
    target.baseline = await target.presenceList();
    return target;
  }

  /** A sample token (remembered as a secret). */
  token(sub: string, perms: string[] = ['channel:*'], tenant = TENANT, expiresInSeconds = 3600): string {
    const token = signToken({ sub, tenant, perms }, { secret: ATTACK_SECRET, expiresInSeconds });
    this.secrets.add(token);
    return token;
  }

  /** Remembers something that must never be logged (a forged token, an engine sid). */
  secret<T extends string>(value: T): T {
    this.secrets.add(value);
    return value;
  }

  /** A JSON request to the sample. */
  async http(method: string, path: string, token?: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(this.url + path, {
      method,
      headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try { parsed = JSON.parse(text); } catch { /* not JSON */ }
    return { status: response.status, body: parsed };
  }

  /** `GET /moderation/presence` with a moderator token of `tenant`. */
  async presenceList(tenant = TENANT): Promise<PresenceRow[]> {
    const { status, body } = await this.http('GET', '/moderation/presence', this.token('moderator', ['moderation:read'], tenant));
    if (status !== 200) throw new Error(`GET /moderation/presence answered ${status}`);
    return (body as { users: PresenceRow[] }).users;
  }

  /** `GET /moderation/presence/:userId`. */
  async presence(userId: string, tenant = TENANT): Promise<PresenceRow> {
    const { status, body } = await this.http('GET', `/moderation/presence/${encodeURIComponent(userId)}`, this.token('moderator', ['moderation:read'], tenant));
    if (status !== 200) throw new Error(`GET /moderation/presence/:userId answered ${status}`);
    return body as PresenceRow;
  }

  /** The moderation routes with a `moderation:write` token. */
  moderate(method: 'POST' | 'DELETE', path: string, tenant = TENANT): Promise<{ status: number; body: unknown }> {
    return this.http(method, `/moderation/users/${path}`, this.token('moderator', ['moderation:*'], tenant));
  }

  /** The control client is still served: its ack answers, its own message comes back to it. */
  async controlStillServed(): Promise<void> {
    expect(this.control.connected).toBe(true);
    const list = (await this.control.timeout(5000).emitWithAck('presence:list', {})) as { ok?: boolean };
    expect(list.ok).toBe(true);
    const echoed = new Promise<{ text: string }>((resolve) => this.control.once('message', resolve));
    const sent = (await this.control.timeout(5000).emitWithAck('message:send', { channelId: 'general', text: 'still here' })) as { ok?: boolean };
    expect(sent.ok).toBe(true);
    expect((await echoed).text).toBe('still here');
  }

  /**
   * The preamble of THREATS.md, after a case: attack clients closed, the control client served,
   * the process up (`/health`), presence and connection counts back to the baseline in every
   * tenant the attack used, and no secret in any log line.
   */
  async assertUnharmed(tenants: string[] = [TENANT, 'globex']): Promise<void> {
    closeAllClients();
    await RawEngineClient.closeAll();
    expect((await this.http('GET', '/health')).status).toBe(200);
    await this.controlStillServed();
    for (const tenant of tenants) {
      const expected = tenant === TENANT ? this.baseline.map((row) => `${row.userId}:${row.status}:${row.connections}`) : [];
      let seen: string[] = [];
      try {
        await waitFor(`presence of ${tenant} back to its baseline`, async () => {
          seen = (await this.presenceList(tenant)).map((row) => `${row.userId}:${row.status}:${row.connections}`);
          return JSON.stringify(seen) === JSON.stringify(expected);
        }, 6000, 50);
      } catch {
        expect(seen).toEqual(expected);
      }
    }
    this.assertNoSecretLogged();
  }

  /** No remembered token, cookie or engine sid in any log line. */
  assertNoSecretLogged(): void {
    const text = this.logger.text();
    const leaked = [...this.secrets].filter((secret) => secret.length >= 8 && text.includes(secret));
    expect(leaked).toEqual([]);
  }

  async close(): Promise<void> {
    this.control?.disconnect();
    closeAllClients();
    await RawEngineClient.closeAll();
    await this.app?.close();
  }
}
