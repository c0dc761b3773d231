import { request, type IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';

/**
 * A raw Engine.IO v4 client, over `ws` or over HTTP long-polling, for protocol-level attacks:
 * it sends exactly the Socket.IO packets it is given (`40/chat,{"token":"..."}`, `42["ev",{}]`,
 * `421["ev"]`) and records every packet it receives. Polling bodies join packets with `\x1e`.
 */

export type RawTransport = 'polling' | 'websocket';
export const RAW_TRANSPORTS: RawTransport[] = ['polling', 'websocket'];

export interface RawOpenOptions {
  transport: RawTransport;
  /** Extra query parameters on every request (the engine's own are added). */
  query?: Record<string, string>;
  /** Headers on every request (`Origin`, `Cookie`, `Authorization`...). */
  headers?: Record<string, string>;
}

/** The engine refused the first request (for example HTTP 403 from `allowRequest`). */
export class RawHandshakeRefused extends Error {
  constructor(readonly status: number, readonly body: string) {
    super(`engine handshake refused with HTTP ${status}`);
  }
}

/** A decoded Socket.IO packet. */
export interface SioPacket {
  /** 0 CONNECT, 1 DISCONNECT, 2 EVENT, 3 ACK, 4 CONNECT_ERROR. */
  type: number;
  nsp: string;
  id?: number;
  data?: unknown;
  raw: string;
}

/** Decodes a text Socket.IO packet (`4` engine prefix already stripped). */
export function decodeSio(raw: string): SioPacket {
  const type = Number(raw[0]);
  let i = 1;
  let nsp = '/';
  if (raw[i] === '/') {
    const comma = raw.indexOf(',', i);
    nsp = comma === -1 ? raw.slice(i) : raw.slice(i, comma);
    i = comma === -1 ? raw.length : comma + 1;
  }
  let digits = '';
  while (i < raw.length && raw[i] >= '0' && raw[i] <= '9') digits += raw[i++];
  const rest = raw.slice(i);
  return { type, nsp, ...(digits !== '' ? { id: Number(digits) } : {}), ...(rest !== '' ? { data: JSON.parse(rest) as unknown } : {}), raw };
}

interface HttpResult {
  status: number;
  body: string;
}

interface Waiter {
  predicate: (packet: SioPacket) => boolean;
  resolve: (packet: SioPacket) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const open = new Set<RawEngineClient>();

export class RawEngineClient {
  /** Socket.IO packets received and not yet taken by `next()`, in order. */
  readonly received: SioPacket[] = [];
  /** Every Socket.IO packet ever received, in order (`next()` does not remove from it). */
  readonly history: SioPacket[] = [];
  /** Resolves with a reason once the engine connection is closed (by either side). */
  readonly closed: Promise<string>;
  transport: RawTransport;
  private closeReason: string | null = null;
  private resolveClosed!: (reason: string) => void;
  private readonly waiters = new Set<Waiter>();
  private ws: WebSocket | null = null;
  private poll: ReturnType<typeof request> | null = null;
  private polling = false;

  private constructor(
    private readonly base: string,
    private readonly options: RawOpenOptions,
    /** The Engine.IO session id (the `sid` of the open packet). */
    readonly sid: string,
  ) {
    this.transport = options.transport;
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve; });
    open.add(this);
  }

  /** Opens an Engine.IO connection; rejects with `RawHandshakeRefused` when the server refuses it. */
  static async open(url: string, options: RawOpenOptions): Promise<RawEngineClient> {
    return options.transport === 'websocket' ? RawEngineClient.openWebSocket(url, options) : RawEngineClient.openPolling(url, options);
  }

  /** Like `open`, but resolves with the refusal instead of rejecting. */
  static async attempt(url: string, options: RawOpenOptions): Promise<RawEngineClient | RawHandshakeRefused> {
    try {
      return await RawEngineClient.open(url, options);
    } catch (error) {
      if (error instanceof RawHandshakeRefused) return error;
      throw error;
    }
  }

  /** Closes every client still open (for `afterEach`); resolves once the server has seen each close. */
  static async closeAll(): Promise<void> {
    const clients = [...open];
    open.clear();
    await Promise.all(clients.map((client) => client.close()));
  }

  get isClosed(): boolean {
    return this.closeReason !== null;
  }

  /**
   * Sends Socket.IO packets (each without the engine `4` prefix). Over websocket each is its own
   * frame, back to back; over polling they travel in one POST body joined by `\x1e`.
   */
  async send(...packets: string[]): Promise<void> {
    await this.sendEngine(...packets.map((p) => `4${p}`));
  }

  /** Sends raw Engine.IO packets (`2probe`, `5`, `1`...). Resolves with the POST status over polling. */
  async sendEngine(...packets: string[]): Promise<number> {
    if (this.isClosed) return 0;
    if (this.transport === 'websocket') {
      for (const p of packets) this.ws?.send(p);
      return 0;
    }
    const result = await this.http('POST', packets.join('\x1e'));
    return result.status;
  }

  /** Sends a raw polling body as is (for malformed bodies). */
  async sendPollingBody(body: string): Promise<number> {
    return (await this.http('POST', body)).status;
  }

  /** The next received packet matching `predicate` (already received ones count), or a timeout error. */
  next(predicate: (packet: SioPacket) => boolean = () => true, timeoutMs = 5000): Promise<SioPacket> {
    const seen = this.received.find(predicate);
    if (seen !== undefined) {
      this.received.splice(this.received.indexOf(seen), 1);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`no matching packet within ${timeoutMs} ms (received: ${this.received.map((p) => p.raw).join(' | ')}; closed: ${this.closeReason})`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Connects to a namespace and resolves with the server's answer: CONNECT or CONNECT_ERROR. */
  async connect(nsp: string, auth?: Record<string, unknown>, timeoutMs = 5000): Promise<SioPacket> {
    await this.send(`${connectPrefix(nsp)}${auth !== undefined ? JSON.stringify(auth) : ''}`);
    return this.next((p) => p.nsp === nsp && (p.type === 0 || p.type === 4), timeoutMs);
  }

  /**
   * Upgrades a polling connection to websocket (probe, then upgrade), as engine.io-client does.
   * `headers` replaces the connection's headers on the upgrade request (a browser may add cookies there).
   */
  async upgrade(headers: Record<string, string> | undefined = this.options.headers): Promise<void> {
    if (this.transport !== 'polling') throw new Error('only a polling connection can be upgraded');
    const ws = new WebSocket(engineUrl(this.base, 'websocket', this.options.query, this.sid), { headers });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => ws.send('2probe'));
      ws.once('error', reject);
      ws.once('message', (data) => {
        if (String(data) !== '3probe') return reject(new Error(`unexpected probe answer ${String(data)}`));
        this.transport = 'websocket';
        this.polling = false;
        this.ws = ws;
        ws.removeAllListeners('error');
        this.watchWebSocket(ws);
        ws.send('5');
        resolve();
      });
    });
  }

  /**
   * Closes the engine connection the way a client does (websocket close frame, or the polling
   * `1` close packet) and resolves once the server has acknowledged it. The server sees a
   * transport close: no Socket.IO DISCONNECT packet is sent.
   */
  async close(): Promise<void> {
    open.delete(this);
    if (this.isClosed) return;
    const ws = this.ws;
    if (ws !== null) {
      const done = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close();
      const timer = setTimeout(() => ws.terminate(), 2000);
      await done;
      clearTimeout(timer);
    } else {
      this.polling = false;
      await this.http('POST', '1').catch(() => undefined);
      this.poll?.destroy();
      this.poll = null;
    }
    this.markClosed('client close');
  }

  /** Drops the TCP connection(s) with no close packet at all (the server notices a transport error or a ping timeout). */
  abort(): void {
    open.delete(this);
    this.polling = false;
    this.poll?.destroy();
    this.poll = null;
    this.ws?.terminate();
    this.markClosed('client abort');
  }

  private static async openWebSocket(base: string, options: RawOpenOptions): Promise<RawEngineClient> {
    const ws = new WebSocket(engineUrl(base, 'websocket', options.query), { headers: options.headers });
    const sid = await new Promise<string>((resolve, reject) => {
      ws.once('unexpected-response', (req, res: IncomingMessage) => {
        ws.removeAllListeners('error');
        ws.on('error', () => undefined);
        readBody(res).then((body) => reject(new RawHandshakeRefused(res.statusCode ?? 0, body)), reject).finally(() => req.destroy());
      });
      ws.once('error', reject);
      ws.once('message', (data) => {
        const text = String(data);
        if (text[0] !== '0') return reject(new Error(`expected an open packet, got ${text}`));
        resolve((JSON.parse(text.slice(1)) as { sid: string }).sid);
      });
    });
    const client = new RawEngineClient(base, options, sid);
    client.ws = ws;
    ws.removeAllListeners('error');
    client.watchWebSocket(ws);
    return client;
  }

  private static async openPolling(base: string, options: RawOpenOptions): Promise<RawEngineClient> {
    const res = await httpRequest('GET', engineUrl(base, 'polling', options.query), options.headers);
    if (res.status !== 200) throw new RawHandshakeRefused(res.status, res.body);
    const [first, ...rest] = res.body.split('\x1e');
    if (first === undefined || first[0] !== '0') throw new Error(`expected an open packet, got ${res.body}`);
    const client = new RawEngineClient(base, options, (JSON.parse(first.slice(1)) as { sid: string }).sid);
    for (const packet of rest) client.onEnginePacket(packet);
    client.polling = true;
    void client.pollLoop();
    return client;
  }

  private watchWebSocket(ws: WebSocket): void {
    ws.on('message', (data) => this.onEnginePacket(String(data)));
    ws.on('close', () => this.markClosed('transport close'));
    ws.on('error', () => this.markClosed('transport error'));
  }

  private async pollLoop(): Promise<void> {
    while (this.polling && !this.isClosed) {
      let res: HttpResult;
      try {
        res = await this.http('GET');
      } catch {
        if (this.polling) this.markClosed('transport error');
        return;
      }
      // Upgraded meanwhile: the old transport's last answer (a noop, or its own close) is not the session's.
      if (!this.polling) return;
      if (res.status !== 200) {
        this.markClosed(`poll HTTP ${res.status}`);
        return;
      }
      for (const packet of res.body.split('\x1e')) this.onEnginePacket(packet);
    }
  }

  private onEnginePacket(packet: string): void {
    if (packet.length === 0) return;
    switch (packet[0]) {
      case '1':
        this.markClosed('server close');
        if (this.ws !== null) this.ws.terminate();
        this.polling = false;
        return;
      case '2':
        void this.sendEngine(`3${packet.slice(1)}`);
        return;
      case '4':
        this.onSioPacket(decodeSio(packet.slice(1)));
        return;
      default:
        return;
    }
  }

  private onSioPacket(packet: SioPacket): void {
    this.history.push(packet);
    for (const waiter of this.waiters) {
      if (!waiter.predicate(packet)) continue;
      this.waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(packet);
      return;
    }
    this.received.push(packet);
  }

  private markClosed(reason: string): void {
    if (this.closeReason !== null) return;
    this.closeReason = reason;
    this.resolveClosed(reason);
  }

  private async http(method: 'GET' | 'POST', body?: string): Promise<HttpResult> {
    const url = engineUrl(this.base, 'polling', this.options.query, this.sid);
    const req = httpRequestRaw(method, url, this.options.headers, body);
    if (method === 'GET') this.poll = req.request;
    try {
      return await req.result;
    } finally {
      if (method === 'GET' && this.poll === req.request) this.poll = null;
    }
  }
}

/** The `40`/`40/chat,` prefix of a CONNECT packet to `nsp`. */
export function connectPrefix(nsp: string): string {
  return nsp === '/' ? '0' : `0${nsp},`;
}

/** Engine URL for `base` (`http://127.0.0.1:PORT`). */
export function engineUrl(base: string, transport: RawTransport, query: Record<string, string> = {}, sid?: string): string {
  const url = new URL('/socket.io/', base.replace(/^http/, transport === 'websocket' ? 'ws' : 'http'));
  url.searchParams.set('EIO', '4');
  url.searchParams.set('transport', transport);
  if (sid !== undefined) url.searchParams.set('sid', sid);
  for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
  return url.toString();
}

function httpRequestRaw(method: string, url: string, headers: Record<string, string> = {}, body?: string) {
  let req!: ReturnType<typeof request>;
  const result = new Promise<HttpResult>((resolve, reject) => {
    req = request(url, {
      method,
      agent: false,
      headers: { ...headers, ...(body !== undefined ? { 'content-type': 'text/plain;charset=UTF-8' } : {}) },
    }, (res) => {
      readBody(res).then((text) => resolve({ status: res.statusCode ?? 0, body: text }), reject);
    });
    req.on('error', reject);
    req.end(body);
  });
  return { request: req, result };
}

/** One HTTP request with a fresh connection (no keep-alive pool left open). */
export function httpRequest(method: string, url: string, headers?: Record<string, string>, body?: string): Promise<HttpResult> {
  return httpRequestRaw(method, url, headers, body).result;
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}
