import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Socket } from 'socket.io';
import type { EngineGate } from '../adapters/handshake.pipeline.js';
import { RESOLVED_OPTIONS } from '../constants.js';
import type { ResolvedRealtimeSecurityOptions } from '../interfaces/resolved-options.interface.js';
import { attachmentLimitedParser, type SocketIoParser } from './attachment-limited.parser.js';
import { HandshakeRateLimiter } from './handshake-rate.limiter.js';
import { OutboundBufferMonitor } from './outbound-buffer.monitor.js';

/**
 * The transport limits Socket.IO's own options do not cover, in one place for the adapter:
 * the per-address handshake rate (`gate`), the binary attachment cap (`parser`), and, per
 * socket (`watch`), the slow-consumer bound and quiet handling of protocol errors.
 */
@Injectable()
export class TransportLimits {
  private readonly logger = new Logger('RealtimeSecurity');
  readonly parser: SocketIoParser;

  constructor(
    @Inject(RESOLVED_OPTIONS) options: ResolvedRealtimeSecurityOptions,
    private readonly handshakes: HandshakeRateLimiter,
    private readonly outbound: OutboundBufferMonitor,
  ) {
    this.parser = attachmentLimitedParser(options.transport.maxAttachments);
  }

  /** The engine gate behind the per-address handshake limit. */
  gate(inner: EngineGate): EngineGate {
    return this.handshakes.gate(inner);
  }

  /**
   * Called for every connected socket. A malformed packet (bad JSON, too many attachments, a
   * tampered placeholder) makes Socket.IO close the connection and report an `error` on its
   * sockets, which it prints with a stack when nobody listens: log one line instead.
   */
  watch(socket: Socket): void {
    this.outbound.watch(socket.conn);
    if (socket.listenerCount('error') === 0) {
      socket.on('error', (error: unknown) => {
        const name = error instanceof Error ? error.name : 'Error';
        const message = error instanceof Error ? error.message.slice(0, 64) : 'non-error';
        this.logger.debug(`protocol error on ${JSON.stringify(socket.nsp.name)}, connection closed: ${name}: ${message}`);
      });
    }
  }
}
