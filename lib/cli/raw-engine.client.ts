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
}

/** Where and how to open a raw Engine.IO v4 connection. */
export interface RawEngineTarget {
  /** `http(s)://host:port`. */
  readonly url: string;
  /** Socket.IO path, such as `/socket.io/`. */
  readonly path: string;
  readonly transport: AuditTransport;
  readonly headers?: Record<string, string>;
  readonly timeoutMs: number;
}

/** The server refused the engine handshake at the HTTP level. */
export interface RawEngineRefusal {
  readonly refused: true;
  readonly status: number;
}

interface HttpAnswer {
  readonly status: number;
  readonly body: string;
}

/** Bodies from the server are read up to this size; the audit never needs more. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A minimal raw Engine.IO v4 client for the probes that `socket.io-client` cannot express:
 * exact frames (reserved event names, oversize bodies) and the HTTP status of a polling POST.
 * Polling bodies join packets with `\x1e`; pings are answered.
 */
export class RawEngineClient {
  /** Resolves with a short reason once the connection is closed, by either side. */
  readonly closed: Promise<string>;
  private closeReason: string | null = null;
  private resolveClosed!: (reason: string) => void;
  private readonly inbox: SioPacket[] = [];
  private readonly waiters = new Set<{ predicate: (p: SioPacket) => boolean; resolve: (p: SioPacket | null) => void; timer: NodeJS.Timeout }>();
  private ws: WebSocket | null = null;
  private pollRequest: { destroy(): void } | null = null;

  private constructor(private readonly target: RawEngineTarget, private readonly sid: string) {
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
  }

  get isClosed(): boolean {
    return this.closeReason !== null;
  }

  /** Opens the engine connection; resolves with a refusal when the server answers the handshake with an HTTP error. */
  static async open(target: RawEngineTarget): Promise<RawEngineClient | RawEngineRefusal> {
    return target.transport === 'websocket' ? RawEngineClient.openWebSocket(target) : RawEngineClient.openPolling(target);
  }

  /** Sends a CONNECT to `nsp` and resolves with the server's CONNECT or CONNECT_ERROR (`null`: none in time). */
  async connect(nsp: string, auth: Record<string, unknown> | undefined): Promise<SioPacket | null> {
    await this.send(`0${nsp === '/' ? '' : `${nsp},`}${auth !== undefined ? JSON.stringify(auth) : ''}`);
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
    if (!this.isClosed && this.ws === null) await this.http('POST', '1').result.catch(() => undefined);
    this.close();
  }

  /** Closes abruptly: the server sees the transport drop (websocket) or a client gone silent (polling). */
  close(): void {
    this.ws?.terminate();
    this.pollRequest?.destroy();
    this.markClosed('client close');
  }

  private static openWebSocket(target: RawEngineTarget): Promise<RawEngineClient | RawEngineRefusal> {
    const ws = new WebSocket(engineUrl(target), { headers: target.headers, handshakeTimeout: target.timeoutMs, maxPayload: MAX_BODY_BYTES });
    return new Promise((resolve) => {
      const fail = (status: number) => {
        ws.terminate();
        resolve({ refused: true, status });
      };
      ws.once('unexpected-response', (_req, res: IncomingMessage) => { res.resume(); fail(res.statusCode ?? 0); });
      ws.once('error', () => fail(0));
      ws.once('message', (data) => {
        const text = String(data);
        const sid = text.startsWith('0') ? parseSid(text.slice(1)) : null;
        if (sid === null) return fail(0);
        const client = new RawEngineClient(target, sid);
        client.ws = ws;
        ws.removeAllListeners('error');
        ws.on('message', (frame, isBinary) => { if (!isBinary) client.onEnginePacket(String(frame)); });
        ws.on('close', () => client.markClosed('transport close'));
        ws.on('error', () => client.markClosed('transport error'));
        resolve(client);
      });
    });
  }

  private static async openPolling(target: RawEngineTarget): Promise<RawEngineClient | RawEngineRefusal> {
    let answer: HttpAnswer;
    try {
      answer = await send(target, 'GET', engineUrl(target)).result;
    } catch {
      return { refused: true, status: 0 };
    }
    if (answer.status !== 200) return { refused: true, status: answer.status };
    const [first, ...rest] = answer.body.split('\x1e');
    const sid = first !== undefined && first.startsWith('0') ? parseSid(first.slice(1)) : null;
    if (sid === null) return { refused: true, status: answer.status };
    const client = new RawEngineClient(target, sid);
    for (const packet of rest) client.onEnginePacket(packet);
    void client.pollLoop();
    return client;
  }

  private async pollLoop(): Promise<void> {
    while (!this.isClosed) {
      const pending = this.http('GET');
      this.pollRequest = pending.request;
      let answer: HttpAnswer;
      try {
        answer = await pending.result;
      } catch {
        this.markClosed('poll failed (connection reset)');
        return;
      }
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
    for (const waiter of this.waiters) {
      if (!waiter.predicate(packet)) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(packet);
      return;
    }
    if (this.inbox.length < 1000) this.inbox.push(packet);
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
    return send(this.target, method, engineUrl(this.target, this.sid), body);
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

function engineUrl(target: RawEngineTarget, sid?: string): string {
  const url = new URL(target.path, target.transport === 'websocket' ? target.url.replace(/^http/, 'ws') : target.url);
  url.searchParams.set('EIO', '4');
  url.searchParams.set('transport', target.transport);
  if (sid !== undefined) url.searchParams.set('sid', sid);
  return url.toString();
}

function send(target: RawEngineTarget, method: 'GET' | 'POST', url: string, body?: string) {
  let req!: ReturnType<typeof httpRequest>;
  const result = new Promise<HttpAnswer>((resolve, reject) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    req = request(url, {
      method,
      agent: false,
      timeout: method === 'GET' ? 60000 : target.timeoutMs,
      headers: { ...target.headers, ...(body !== undefined ? { 'content-type': 'text/plain;charset=UTF-8' } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= MAX_BODY_BYTES) chunks.push(chunk);
        else res.destroy();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
  return { request: req, result };
}
