import { io, type Socket } from 'socket.io-client';
import type { AuditBudget } from './audit-budget.js';
import type { AuditTransport } from './audit-options.interface.js';
import type { Redactor } from './redactor.js';

/** One Socket.IO connection attempt. */
export interface ProbeRequest {
  readonly nsp: string;
  readonly transport: AuditTransport;
  /** The CONNECT payload (`auth`). */
  readonly auth?: Record<string, unknown>;
  /** Query parameters on the handshake requests. */
  readonly query?: Record<string, string>;
  /** Headers on the handshake requests (`Origin`, `Cookie`). */
  readonly headers?: Record<string, string>;
}

/** What came of an attempt. */
export interface ProbeOutcome {
  readonly connected: boolean;
  /** The open socket, when connected (closed by `closeAll`). */
  readonly socket?: Socket;
  /** `data.code` of the refusal, when the server sent one. */
  readonly code?: string;
  /** A cleaned, one-line description of the outcome. */
  readonly description: string;
  /** The server itself answered (connected, or refused in Socket.IO or with an HTTP status), as opposed to a timeout or network error. */
  readonly serverAnswered: boolean;
}

/** `connect_error` messages engine.io-client produces itself, with no Socket.IO answer behind them. */
const TRANSPORT_ERRORS = new Set(['xhr poll error', 'xhr post error', 'websocket error', 'timeout']);

interface ConnectError extends Error {
  data?: unknown;
  description?: unknown;
}

/** Opens real `socket.io-client` connections for the checks, within the budget. */
export class ProbeClient {
  private readonly open = new Set<Socket>();

  constructor(
    private readonly url: string,
    private readonly path: string,
    private readonly budget: AuditBudget,
    private readonly redactor: Redactor,
  ) {}

  /** One attempt; resolves on `connect`, `connect_error` or the step timeout. */
  async connect(request: ProbeRequest): Promise<ProbeOutcome> {
    this.budget.takeConnection();
    const timeout = this.budget.stepMs;
    const socket = io(this.url + (request.nsp === '/' ? '' : request.nsp), {
      path: this.path,
      forceNew: true,
      reconnection: false,
      timeout,
      transports: [request.transport],
      upgrade: false,
      ...(request.auth !== undefined ? { auth: request.auth } : {}),
      ...(request.query !== undefined ? { query: request.query } : {}),
      ...(request.headers !== undefined ? { extraHeaders: request.headers } : {}),
    });
    this.open.add(socket);
    const outcome = await new Promise<ProbeOutcome>((resolve) => {
      const timer = setTimeout(() => resolve({ connected: false, serverAnswered: false, description: `no answer within ${timeout} ms` }), timeout + 200);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve({ connected: true, serverAnswered: true, socket, description: 'connected' });
      });
      socket.once('connect_error', (error: ConnectError) => {
        clearTimeout(timer);
        resolve(this.refusal(error));
      });
    });
    if (!outcome.connected) this.close(socket);
    return outcome;
  }

  /** Connects with the token in `auth`, retrying a `CONNECTION_LIMIT` refusal (see `connectRetrying`). */
  connectWithToken(nsp: string, transport: AuditTransport, token: string): Promise<ProbeOutcome> {
    return this.connectRetrying({ nsp, transport, auth: { token } });
  }

  /**
   * One attempt, with a `CONNECTION_LIMIT` refusal retried until the step deadline: the server
   * may release the slots of just-closed audit sockets a moment later.
   */
  async connectRetrying(request: ProbeRequest): Promise<ProbeOutcome> {
    const deadline = Date.now() + this.budget.stepMs;
    for (;;) {
      const outcome = await this.connect(request);
      if (outcome.connected || outcome.code !== 'CONNECTION_LIMIT' || Date.now() >= deadline) return outcome;
      await delay(50);
    }
  }

  close(socket: Socket): void {
    socket.disconnect();
    this.open.delete(socket);
  }

  closeAll(): void {
    for (const socket of this.open) socket.disconnect();
    this.open.clear();
  }

  private refusal(error: ConnectError): ProbeOutcome {
    const data = error.data;
    const code = data !== null && typeof data === 'object' && typeof (data as { code?: unknown }).code === 'string' ? (data as { code: string }).code : undefined;
    const status = typeof error.description === 'number' ? ` (HTTP ${error.description})` : '';
    const message = this.redactor.clean(String(error.message), 60);
    const cleanCode = code !== undefined ? this.redactor.clean(code, 40) : undefined;
    return {
      connected: false,
      serverAnswered: code !== undefined || typeof error.description === 'number' || !TRANSPORT_ERRORS.has(String(error.message)),
      ...(cleanCode !== undefined ? { code: cleanCode } : {}),
      description: `connect_error${cleanCode !== undefined ? ` ${cleanCode}` : ''} "${message}"${status}`,
    };
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
