import {
  connectPrefix,
  decodeSio as decodeShipped,
  engineRequest,
  engineUrl as shippedEngineUrl,
  RawEngineClient as EngineClient,
  type HttpAnswer,
  type SioPacket,
} from '../../lib/cli/raw-engine.client.js';

/**
 * The test suite's raw Engine.IO v4 client, for protocol-level attacks: it sends exactly the
 * Socket.IO packets it is given (`40/chat,{"token":"..."}`, `42["ev",{}]`, `421["ev"]`) and
 * records every packet it receives. A thin wrapper over the package's own raw client (the one the
 * audit command uses, `lib/cli/raw-engine.client.ts`): the wire protocol lives there. Here only
 * what tests need on top: handshake refusals as errors, `next()` that rejects with a diagnostic,
 * `history` always on, and `closeAll()` for `afterEach`.
 */

export type RawTransport = 'polling' | 'websocket';
export const RAW_TRANSPORTS: RawTransport[] = ['polling', 'websocket'];
export { connectPrefix, type SioPacket };

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

/** Request timeout (not a wait for an answer: `next()` has its own). */
const REQUEST_TIMEOUT_MS = 30_000;
const SOCKET_IO_PATH = '/socket.io/';

/** Decodes a text Socket.IO packet (`4` engine prefix already stripped); throws when it is not one. */
export function decodeSio(raw: string): SioPacket {
  const packet = decodeShipped(raw);
  if (packet === null) throw new Error(`not a Socket.IO packet: ${raw.slice(0, 200)}`);
  return packet;
}

const open = new Set<RawEngineClient>();

export class RawEngineClient {
  private constructor(private readonly engine: EngineClient) {
    open.add(this);
  }

  /** Opens an Engine.IO connection; rejects with `RawHandshakeRefused` when the server refuses it. */
  static async open(url: string, options: RawOpenOptions): Promise<RawEngineClient> {
    const engine = await EngineClient.open({
      url,
      path: SOCKET_IO_PATH,
      transport: options.transport,
      timeoutMs: REQUEST_TIMEOUT_MS,
      inboxLimit: Number.POSITIVE_INFINITY,
      recordHistory: true,
      ...(options.headers !== undefined ? { headers: options.headers } : {}),
      ...(options.query !== undefined ? { query: options.query } : {}),
    });
    if ('refused' in engine) {
      if (engine.status === 0) throw new Error('engine connection failed (no HTTP answer)');
      throw new RawHandshakeRefused(engine.status, engine.body);
    }
    return new RawEngineClient(engine);
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

  /** The Engine.IO session id (the `sid` of the open packet). */
  get sid(): string {
    return this.engine.sid;
  }

  get transport(): RawTransport {
    return this.engine.transport;
  }

  /** Resolves with a reason once the engine connection is closed (by either side). */
  get closed(): Promise<string> {
    return this.engine.closed;
  }

  get isClosed(): boolean {
    return this.engine.isClosed;
  }

  /** Every Socket.IO packet received, in order (`next()` does not remove from it). */
  get history(): readonly SioPacket[] {
    return this.engine.history;
  }

  /**
   * Sends Socket.IO packets (each without the engine `4` prefix). Over websocket each is its own
   * frame, back to back; over polling they travel in one POST body joined by `\x1e`.
   */
  async send(...packets: string[]): Promise<void> {
    await this.engine.send(...packets);
  }

  /**
   * Sends raw Engine.IO packets (`2probe`, `5`, `1`...); over websocket a `Buffer` is a binary
   * frame. Resolves with the POST status over polling (0 over websocket).
   */
  async sendEngine(...packets: Array<string | Buffer>): Promise<number> {
    if (this.engine.isClosed) return 0;
    return this.engine.sendRaw(...packets);
  }

  /**
   * @deprecated Use `sendEngine` (a `Buffer` is a binary frame). Kept for suites that send
   * websocket frames through the old client's socket; `null` over polling.
   */
  get ws(): { send(frame: string | Buffer): void } | null {
    if (this.engine.transport !== 'websocket') return null;
    return { send: (frame) => { void this.engine.sendRaw(frame); } };
  }

  /** Sends a raw polling body as is (for malformed bodies). */
  async sendPollingBody(body: string): Promise<number> {
    if (this.engine.transport !== 'polling') throw new Error('sendPollingBody needs a polling connection');
    return this.engine.sendRaw(body);
  }

  /** The next received packet matching `predicate` (already received ones count), or a timeout error. */
  async next(predicate: (packet: SioPacket) => boolean = () => true, timeoutMs = 5000): Promise<SioPacket> {
    const deadline = Date.now() + timeoutMs;
    const packet = await this.engine.next(predicate, timeoutMs);
    if (packet !== null) return packet;
    // Closed early: still reject only at the deadline, so `Promise.race([next, closed])` settles on `closed`.
    const left = deadline - Date.now();
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left).unref());
    const received = this.engine.history.map((p) => p.raw).join(' | ');
    throw new Error(`no matching packet within ${timeoutMs} ms (received: ${received}; closed: ${this.engine.closedBecause})`);
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
  upgrade(headers?: Record<string, string>): Promise<void> {
    return this.engine.upgrade(headers);
  }

  /**
   * Closes the engine connection the way a client does (websocket close frame, or the polling
   * `1` close packet) and resolves once the server has acknowledged it. The server sees a
   * transport close: no Socket.IO DISCONNECT packet is sent.
   */
  async close(): Promise<void> {
    open.delete(this);
    await this.engine.end();
  }

  /** Drops the TCP connection(s) with no close packet at all (the server notices a transport error or a ping timeout). */
  abort(): void {
    open.delete(this);
    this.engine.close();
  }
}

/** Engine URL for `base` (`http://127.0.0.1:PORT`). */
export function engineUrl(base: string, transport: RawTransport, query: Record<string, string> = {}, sid?: string): string {
  return shippedEngineUrl({ url: base, path: SOCKET_IO_PATH, transport, query }, sid);
}

/** One HTTP request with a fresh connection (no keep-alive pool left open). */
export function httpRequest(method: string, url: string, headers?: Record<string, string>, body?: string): Promise<HttpAnswer> {
  return engineRequest(method, url, { timeoutMs: REQUEST_TIMEOUT_MS, ...(headers !== undefined ? { headers } : {}) }, body).result;
}
