import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { WebSocket } from 'ws';
import type { AuditTransport } from './audit-options.interface.js';

/** A decoded Socket.IO packet: 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR. */
export interface SioPacket {
  readonly type: number;
  readonly nsp: string;
  readonly id?: number;
  readonly data?: unknown;
  /** The packet as received (without the engine `4`). */
  readonly raw: string;
}

/** Where and how to open a raw Engine.IO v4 connection. */
export interface RawEngineTarget {
  /** `http(s)://host:port`. */
  readonly url: string;
  /** Socket.IO path, such as `/socket.io/`. */
  readonly path: string;
  readonly transport: AuditTransport;
  readonly headers?: Record<string, string>;
  /** Extra query parameters on every request (the engine's own are added). */
  readonly query?: Record<string, string>;
  /** Default wait for an answer, and the timeout of every request but the long poll. */
  readonly timeoutMs: number;
  /** Unclaimed packets kept for `next()`; later ones are dropped. @default 1000 */
  readonly inboxLimit?: number;
  /** Keep every received packet in `history` (tests; unbounded). @default false */
  readonly recordHistory?: boolean;
}

/** The server refused the engine handshake at the HTTP level (`status` 0: no HTTP answer). */
export interface RawEngineRefusal {
  readonly refused: true;
  readonly status: number;
  /** The refusal's body (up to 1 MiB). */
  readonly body: string;
}

/** Headers and timeout of one HTTP request. */
export interface EngineRequestOptions {
  readonly headers?: Record<string, string>;
  readonly timeoutMs: number;
}

/** An HTTP answer, body read (up to 1 MiB). */
export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** Bodies from the server are read up to this size; the audit never needs more. */
const MAX_BODY_BYTES = 1024 * 1024;

/** A long poll is answered within the server's ping interval (25 s by default). */
const LONG_POLL_TIMEOUT_MS = 60_000;

/**
 * A minimal raw Engine.IO v4 client for the probes that `socket.io-client` cannot express:
 * exact frames (reserved event names, oversize bodies) and the HTTP status of a polling POST.
 * Polling bodies join packets with `\x1e`; pings are answered. The one implementation of the
 * wire protocol in this package: the test suite's raw client wraps it.
 */
export class RawEngineClient {
  /** Resolves with a short reason once the connection is closed, by either side. */
  readonly closed: Promise<string>;
  /** Every packet received, in order, when the target asks for it (`recordHistory`). */
  readonly history: SioPacket[] = [];
  private closeReason: string | null = null;
  private resolveClosed!: (reason: string) => void;
  private readonly inbox: SioPacket[] = [];
  private readonly waiters = new Set<{ predicate: (p: SioPacket) => boolean; resolve: (p: SioPacket | null) => void; timer: NodeJS.Timeout }>();
  private ws: WebSocket | null = null;
  private pollRequest: { destroy(): void } | null = null;
  /** False once the session moved to websocket (the long poll's last answer is then not the session's). */
  private polling = false;

  private constructor(
    private readonly target: RawEngineTarget,
    /** The Engine.IO session id (the `sid` of the open packet). */
    readonly sid: string,
  ) {
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
  }

  get isClosed(): boolean {
    return this.closeReason !== null;
  }

  /** Why the connection closed; `null` while open. */
  get closedBecause(): string | null {
    return this.closeReason;
  }

  /** The transport in use now (`websocket` after `upgrade()`). */
  get transport(): AuditTransport {
    return this.ws !== null ? 'websocket' : 'polling';
  }

  /** Opens the engine connection; resolves with a refusal when the server answers the handshake with an HTTP error. */
  static async open(target: RawEngineTarget): Promise<RawEngineClient | RawEngineRefusal> {
    return target.transport === 'websocket' ? RawEngineClient.openWebSocket(target) : RawEngineClient.openPolling(target);
  }

  /** Sends a CONNECT to `nsp` and resolves with the server's CONNECT or CONNECT_ERROR (`null`: none in time). */
  async connect(nsp: string, auth: Record<string, unknown> | undefined): Promise<SioPacket | null> {
    await this.send(`${connectPrefix(nsp)}${auth !== undefined ? JSON.stringify(auth) : ''}`);
    return this.next((p) => p.nsp === nsp && (p.type === 0 || p.type === 4));
  }

  /**
   * Sends Socket.IO packets (without the engine `4`). Websocket: one frame each. Polling: one
   * POST; resolves with its HTTP status (0 over websocket, -1 when the request failed).
   */
  send(...packets: string[]): Promise<number> {
    return this.sendRaw(...packets.map((p) => `4${p}`));
  }

  /**
   * Sends Engine.IO frames exactly as given (for malformed input). Websocket: one frame each, a
   * `Buffer` as a binary frame. Polling: one POST of the frames joined by `\x1e` (a `Buffer` as
   * latin1 text). Same resolution as `send`; a failed request closes the client.
   */
  async sendRaw(...frames: Array<string | Buffer>): Promise<number> {
    if (this.isClosed) return -1;
    if (this.ws !== null) {
      for (const frame of frames) this.ws.send(frame);
      return 0;
    }
    try {
      const answer = await this.http('POST', frames.map((f) => (typeof f === 'string' ? f : f.toString('latin1'))).join('\x1e')).result;
      return answer.status;
    } catch {
      this.markClosed('POST failed (connection reset)');
      return -1;
    }
  }

  /** The next received packet matching `predicate`, or `null` after `timeoutMs` or on close. */
  next(predicate: (packet: SioPacket) => boolean = () => true, timeoutMs = this.target.timeoutMs): Promise<SioPacket | null> {
    const index = this.inbox.findIndex(predicate);
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0] as SioPacket);
    if (this.isClosed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const waiter = { predicate, resolve, timer: setTimeout(() => { this.waiters.delete(waiter); resolve(null); }, timeoutMs) };
      this.waiters.add(waiter);
    });
  }

  /** Resolves with the close reason, or `null` if still open after `timeoutMs`. */
  closedWithin(timeoutMs: number): Promise<string | null> {
    return Promise.race([this.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), timeoutMs).unref())]);
  }

  /**
   * Closes politely: over polling the engine close packet goes first, else the server keeps the
   * session (and whatever it holds, such as a connection slot) until its ping timeout.
   */
  async end(): Promise<void> {
    const ws = this.ws;
    if (!this.isClosed && ws === null) {
      this.polling = false;
      await this.http('POST', '1').result.catch(() => undefined);
    } else if (!this.isClosed && ws !== null) {
      // A close frame, answered by the server's: it has seen the close when this resolves.
      const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close();
      const timer = setTimeout(() => ws.terminate(), Math.min(this.target.timeoutMs, 2000));
      await done;
      clearTimeout(timer);
    }
    this.close();
  }

  /**
   * Upgrades a polling connection to websocket (probe, then upgrade), as engine.io-client does.
   * `headers` replaces the target's headers on the upgrade request.
   */
  async upgrade(headers: Record<string, string> | undefined = this.target.headers): Promise<void> {
    if (this.ws !== null || this.isClosed) throw new Error('only an open polling connection can be upgraded');
    const ws = new WebSocket(engineUrl({ ...this.target, transport: 'websocket' }, this.sid), { headers, handshakeTimeout: this.target.timeoutMs, maxPayload: MAX_BODY_BYTES });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => ws.send('2probe'));
      ws.once('error', reject);
      ws.once('message', (data) => {
        if (String(data) !== '3probe') {
          ws.terminate();
          reject(new Error('unexpected answer to the upgrade probe'));
          return;
        }
        this.polling = false;
        this.ws = ws;
        ws.removeAllListeners('error');
        this.watch(ws);
        ws.send('5');
        resolve();
      });
    });
  }

  /** Closes abruptly: the server sees the transport drop (websocket) or a client gone silent (polling). */
  close(): void {
    this.polling = false;
    this.ws?.terminate();
    this.pollRequest?.destroy();
    this.markClosed('client close');
  }

  private static openWebSocket(target: RawEngineTarget): Promise<RawEngineClient | RawEngineRefusal> {
    const ws = new WebSocket(engineUrl(target), { headers: target.headers, handshakeTimeout: target.timeoutMs, maxPayload: MAX_BODY_BYTES });
    return new Promise((resolve) => {
      const fail = (status: number, body = '') => {
        ws.terminate();
        resolve({ refused: true, status, body });
      };
      ws.once('unexpected-response', (req, res: IncomingMessage) => {
        ws.removeAllListeners('error');
        ws.on('error', () => undefined);
        readBody(res).then((body) => fail(res.statusCode ?? 0, body), () => fail(res.statusCode ?? 0)).finally(() => req.destroy());
      });
      ws.once('error', () => fail(0));
      ws.once('message', (data) => {
        const text = String(data);
        const sid = text.startsWith('0') ? parseSid(text.slice(1)) : null;
        if (sid === null) return fail(0);
        const client = new RawEngineClient(target, sid);
        client.ws = ws;
        ws.removeAllListeners('error');
        client.watch(ws);
        resolve(client);
      });
    });
  }

  private watch(ws: WebSocket): void {
    ws.on('message', (frame, isBinary) => { if (!isBinary) this.onEnginePacket(String(frame)); });
    ws.on('close', () => this.markClosed('transport close'));
    ws.on('error', () => this.markClosed('transport error'));
  }

  private static async openPolling(target: RawEngineTarget): Promise<RawEngineClient | RawEngineRefusal> {
    let answer: HttpAnswer;
    try {
      answer = await engineRequest('GET', engineUrl(target), target).result;
    } catch {
      return { refused: true, status: 0, body: '' };
    }
    if (answer.status !== 200) return { refused: true, status: answer.status, body: answer.body };
    const [first, ...rest] = answer.body.split('\x1e');
    const sid = first !== undefined && first.startsWith('0') ? parseSid(first.slice(1)) : null;
    if (sid === null) return { refused: true, status: answer.status, body: answer.body };
    const client = new RawEngineClient(target, sid);
    for (const packet of rest) client.onEnginePacket(packet);
    client.polling = true;
    void client.pollLoop();
    return client;
  }

  private async pollLoop(): Promise<void> {
    while (this.polling && !this.isClosed) {
      const pending = this.http('GET');
      this.pollRequest = pending.request;
      let answer: HttpAnswer;
      try {
        answer = await pending.result;
      } catch {
        if (this.polling) this.markClosed('poll failed (connection reset)');
        return;
      } finally {
        if (this.pollRequest === pending.request) this.pollRequest = null;
      }
      // Upgraded meanwhile: the old transport's last answer (a noop, or its own close) is not the session's.
      if (!this.polling) return;
      if (answer.status !== 200) {
        this.markClosed(`poll answered HTTP ${answer.status}`);
        return;
      }
      for (const packet of answer.body.split('\x1e')) this.onEnginePacket(packet);
    }
  }

  private onEnginePacket(packet: string): void {
    if (packet.startsWith('1')) {
      this.markClosed('server close');
      this.polling = false;
      this.ws?.terminate();
    } else if (packet.startsWith('2')) {
      if (this.ws !== null) this.ws.send(`3${packet.slice(1)}`);
      else void this.http('POST', `3${packet.slice(1)}`).result.catch(() => undefined);
    } else if (packet.startsWith('4')) {
      const decoded = decodeSio(packet.slice(1));
      if (decoded !== null) this.deliver(decoded);
    }
  }

  private deliver(packet: SioPacket): void {
    if (this.target.recordHistory === true) this.history.push(packet);
    for (const waiter of this.waiters) {
      if (!waiter.predicate(packet)) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(packet);
      return;
    }
    if (this.inbox.length < (this.target.inboxLimit ?? 1000)) this.inbox.push(packet);
  }

  private markClosed(reason: string): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    this.resolveClosed(reason);
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(null);
    }
    this.waiters.clear();
    this.pollRequest?.destroy();
  }

  private http(method: 'GET' | 'POST', body?: string) {
    // The long poll waits up to the server's ping interval: its own, longer timeout.
    const timeoutMs = method === 'GET' ? LONG_POLL_TIMEOUT_MS : this.target.timeoutMs;
    return engineRequest(method, engineUrl({ ...this.target, transport: 'polling' }, this.sid), { headers: this.target.headers, timeoutMs }, body);
  }
}

/** Decodes a text Socket.IO packet; `null` when it is not one. */
export function decodeSio(raw: string): SioPacket | null {
  const match = /^([0-6])(?:\d+-)?(\/[^,]*)?,?(\d+)?([\s\S]*)$/.exec(raw);
  if (match === null) return null;
  let data: unknown;
  if (match[4] !== undefined && match[4] !== '') {
    try {
      data = JSON.parse(match[4]) as unknown;
    } catch {
      return null;
    }
  }
  return {
    type: Number(match[1]),
    nsp: match[2] ?? '/',
    ...(match[3] !== undefined ? { id: Number(match[3]) } : {}),
    ...(data !== undefined ? { data } : {}),
    raw,
  };
}

function parseSid(json: string): string | null {
  try {
    const open = JSON.parse(json) as { sid?: unknown };
    return typeof open.sid === 'string' ? open.sid : null;
  } catch {
    return null;
  }
}

/** The `0`/`0/chat,` head of a CONNECT packet to `nsp` (without the engine `4`). */
export function connectPrefix(nsp: string): string {
  return nsp === '/' ? '0' : `0${nsp},`;
}

/** The engine URL of `target` (`ws(s):` for websocket), with the session id once there is one. */
export function engineUrl(target: Pick<RawEngineTarget, 'url' | 'path' | 'transport' | 'query'>, sid?: string): string {
  const url = new URL(target.path, target.transport === 'websocket' ? target.url.replace(/^http/, 'ws') : target.url.replace(/^ws/, 'http'));
  url.searchParams.set('EIO', '4');
  url.searchParams.set('transport', target.transport);
  if (sid !== undefined) url.searchParams.set('sid', sid);
  for (const [key, value] of Object.entries(target.query ?? {})) url.searchParams.set(key, value);
  return url.toString();
}

/**
 * One HTTP request on a fresh connection (no keep-alive pool left open), body read up to 1 MiB.
 * `request` can be destroyed to abandon it (a pending long poll).
 */
export function engineRequest(method: string, url: string, options: EngineRequestOptions, body?: string) {
  let req!: ReturnType<typeof httpRequest>;
  const result = new Promise<HttpAnswer>((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    req = request(url, {
      method,
      agent: false,
      timeout: options.timeoutMs,
      headers: { ...options.headers, ...(body !== undefined ? { 'content-type': 'text/plain;charset=UTF-8' } : {}) },
    }, (res) => {
      readBody(res).then((text) => resolve({ status: res.statusCode ?? 0, body: text }), reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
  return { request: req, result };
}

/** Reads a body up to 1 MiB (the rest is cut off; what was read is kept). */
function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => resolve(Buffer.concat(chunks).toString('utf8'));
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
      else res.destroy();
    });
    res.on('end', done);
    res.on('error', reject);
    res.on('close', done);
  });
}
