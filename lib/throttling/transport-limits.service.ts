import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Socket } from 'socket.io';
import type { EngineGate } from '../adapters/handshake.pipeline.js';
import { reply } from '../adapters/socket-reply.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException } from '../exceptions/ws-security.exception.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { attachmentLimitedParser, type SocketIoParser } from './attachment-limited.parser.js';
import { HandshakeRateLimiter } from './handshake-rate.limiter.js';
import { OutboundBufferMonitor } from './outbound-buffer.monitor.js';
import { UserMessageBudget } from './user-message.budget.js';
import { sessionOf } from '../connections/connection-session.js';
import { SecurityMetrics } from '../metrics/security-metrics.js';

/**
 * Event names a client may never send. Socket.IO's parser refuses most of them (the connection
 * closes), but not `error`: that one is dispatched to the socket's `error` listeners, where the
 * app expects server-side errors, not client-chosen data (Socket.IO only keeps a no-op listener
 * so that it cannot throw), and its ack is never answered.
 */
const RESERVED_EVENTS: ReadonlySet<unknown> = new Set(['error', 'connect', 'connect_error', 'disconnect', 'disconnecting', 'newListener', 'removeListener']);

type Ack = (body: unknown) => void;

/**
 * The transport limits Socket.IO's own options do not cover, in one place for the adapter:
 * the per-address handshake rate (`gate`), the binary attachment cap (`parser`), and, per
 * socket (`watch`), the slow-consumer bound, the screening of event names, and quiet handling
 * of protocol errors.
 */
@Injectable()
export class TransportLimits {
  private readonly logger = new Logger('RealtimeSecurity');
  readonly parser: SocketIoParser;
  private readonly refreshEvent: string;
  /** One listener shared by every socket (Socket.IO calls it with the socket as `this`). */
  private readonly onSocketError: (this: Socket, error: unknown) => void;

  constructor(
    @Inject(RESOLVED_OPTIONS) options: ResolvedRealtimeSecurityOptions,
    private readonly handshakes: HandshakeRateLimiter,
    private readonly outbound: OutboundBufferMonitor,
    private readonly budget: UserMessageBudget,
    private readonly metrics: SecurityMetrics,
  ) {
    this.parser = attachmentLimitedParser(options.transport.maxAttachments);
    this.refreshEvent = options.tokens.refreshEvent;
    const logger = this.logger;
    this.onSocketError = function onSocketError(this: Socket, error: unknown): void {
      const name = error instanceof Error ? error.name : 'Error';
      const message = error instanceof Error ? error.message.slice(0, 64) : 'non-error';
      logger.debug(`socket error on ${JSON.stringify(this.nsp.name)}: ${name}: ${message}`);
    };
  }

  /** The engine gate behind the per-address handshake limit. */
  gate(inner: EngineGate): EngineGate {
    return this.handshakes.gate(inner);
  }

  /**
   * Called for every connected socket, right after the message pipeline is installed:
   *  - the slow-consumer bound on its connection;
   *  - a malformed packet (bad JSON, too many attachments, a tampered placeholder) makes
   *    Socket.IO close the connection and report an `error` on its sockets: one debug line
   *    (name and a bounded message, never the packet).
   */
  watch(socket: Socket): void {
    this.outbound.watch(socket.conn);
    socket.on('error', this.onSocketError);
  }

  /**
   * Event names, screened by the message pipeline's middleware once it has passed the event (so
   * a closed or expired session is answered as such first; one middleware per socket, not two):
   * a reserved name (`error`, `disconnect`, ...) is dropped, its ack answered `BAD_REQUEST`; a
   * name nothing listens to (a number, `__proto__`, a typo) is dropped, its ack answered
   * `NOT_FOUND`, so an ack never waits for a handler that does not exist.
   */
  screen(socket: Socket, event: unknown[], next: (err?: Error) => void): void {
    const name = event[0];
    const last = event[event.length - 1];
    const ack = typeof last === 'function' ? (last as Ack) : undefined;
    // Dropped events are answered through their ack only: without one, silence (no amplification).
    let refusal: SecurityErrorCode | null = null;
    if (RESERVED_EVENTS.has(name)) refusal = SecurityErrorCode.BAD_REQUEST;
    // The refresh event is answered by the message pipeline, which has no listener for it.
    else if (name !== this.refreshEvent && (typeof name !== 'string' || socket.listenerCount(name) === 0)) refusal = SecurityErrorCode.NOT_FOUND;
    if (refusal === null) {
      next();
      return;
    }
    const code = refusal;
    // A dropped event still costs the user one message: no event name is free to flood with.
    const session = sessionOf(socket);
    let charged: void | Promise<void>;
    try {
      charged = session === undefined ? undefined : this.budget.charge(session, typeof name === 'string' ? name : undefined);
    } catch (error) {
      charged = Promise.reject(error);
    }
    Promise.resolve(charged).then(
      () => {
        this.metrics.messageRefused(socket.nsp.name, name, code);
        if (ack !== undefined) reply(socket, ack, new WsSecurityException(code).getBody());
      },
      (error: unknown) => {
        const refusal = error instanceof WsSecurityException ? error : new WsSecurityException(SecurityErrorCode.INTERNAL);
        this.metrics.messageRefused(socket.nsp.name, name, refusal.code);
        if (ack !== undefined) reply(socket, ack, refusal.getBody());
      },
    );
  }
}
