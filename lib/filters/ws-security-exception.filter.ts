import { Catch, HttpException, HttpStatus, Injectable, Logger, type ArgumentsHost, type WsExceptionFilter } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import { reply } from '../adapters/socket-reply.js';
import { describe } from '../connections/connection-lifecycle.js';
import { sessionOf } from '../connections/connection-session.js';
import { SecurityEventsService } from '../events/security-events.service.js';
import { SecurityErrorCode } from '../exceptions/security-error-code.js';
import { WsSecurityException, type SecurityErrorBody } from '../exceptions/ws-security.exception.js';
import type { SecurityEventKind } from '../interfaces/security-event.interface.js';
import { SecurityMetrics } from '../metrics/security-metrics.js';

/**
 * `@nestjs/throttler`'s exception, recognised by name as well as by its HTTP status: that package
 * is CommonJS and may hold its own copy of `HttpException`, and importing it here would load it
 * for apps that do not use it.
 */
function isThrottlerException(exception: unknown): boolean {
  return exception instanceof Error && exception.constructor.name === 'ThrottlerException';
}

/** What Nest throws when a guard returns `false` (`@nestjs/core` FORBIDDEN_MESSAGE). */
const NEST_GUARD_REFUSAL = 'Forbidden resource';

type Ack = (body: unknown) => void;

/**
 * The error contract of every gateway handler (the module installs it on every gateway, behind
 * the gateway's own filters). A refused message resolves the client's ack with
 * `{ error: { code, message } }`, so an `emitWithAck` never hangs; without an ack the same body
 * is emitted as `exception`. Never a stack, never the input:
 * - `WsSecurityException`: its coded body;
 * - `@nestjs/throttler`'s `ThrottlerException` (or any HTTP 429): `RATE_LIMITED`;
 * - other `HttpException`s by status: 400/422 `VALIDATION_FAILED`, 401 `UNAUTHORIZED`,
 *   403 `FORBIDDEN`, 404 `NOT_FOUND`, other 4xx `BAD_REQUEST`, 5xx `INTERNAL`;
 * - a guard returning `false`: `FORBIDDEN`; any other `WsException`: `BAD_REQUEST` (its text is
 *   not sent: throw a `WsSecurityException` to choose the code and message);
 * - anything else: `INTERNAL` with a generic message, the detail in the server log only.
 *
 * Usable on its own too: `@UseFilters(WsSecurityExceptionFilter)`.
 */
@Catch()
@Injectable()
export class WsSecurityExceptionFilter implements WsExceptionFilter {
  private readonly logger = new Logger('RealtimeSecurity');

  constructor(private readonly events: SecurityEventsService, private readonly metrics: SecurityMetrics) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'ws') {
      this.logger.error(`WsSecurityExceptionFilter caught a ${host.getType()} exception; it handles WebSocket gateways only: ${describe(exception)}`);
      return;
    }
    const socket = host.switchToWs().getClient<Socket>();
    // A handler's arguments are [socket, data, ack?, pattern].
    const ackArg: unknown = host.getArgByIndex(2);
    const ack = typeof ackArg === 'function' ? (ackArg as Ack) : undefined;
    const event = host.switchToWs().getPattern();
    const body = this.toBody(exception, socket, event);
    if (socket === undefined || socket === null) return;
    if (socket.nsp !== undefined) this.metrics.messageRefused(socket.nsp.name, event, body.error.code);
    reply(socket, ack, body);
  }

  /** The coded body for an exception; reports what nobody reported before. */
  protected toBody(exception: unknown, socket: Socket | undefined, event: string | undefined): SecurityErrorBody {
    if (exception instanceof WsSecurityException) return exception.getBody();
    if (isThrottlerException(exception)) return this.reported('rate_limited', SecurityErrorCode.RATE_LIMITED, socket, event);
    if (exception instanceof HttpException) return this.fromHttpStatus(exception, socket, event);
    if (exception instanceof WsException) {
      if (exception.getError() === NEST_GUARD_REFUSAL) return this.reported('forbidden', SecurityErrorCode.FORBIDDEN, socket, event);
      return new WsSecurityException(SecurityErrorCode.BAD_REQUEST).getBody();
    }
    return this.internal(exception, socket, event);
  }

  private fromHttpStatus(exception: HttpException, socket: Socket | undefined, event: string | undefined): SecurityErrorBody {
    const status = exception.getStatus();
    switch (status) {
      case HttpStatus.TOO_MANY_REQUESTS:
        return this.reported('rate_limited', SecurityErrorCode.RATE_LIMITED, socket, event);
      case HttpStatus.BAD_REQUEST:
      case HttpStatus.UNPROCESSABLE_ENTITY:
        return new WsSecurityException(SecurityErrorCode.VALIDATION_FAILED).getBody();
      case HttpStatus.UNAUTHORIZED:
        return new WsSecurityException(SecurityErrorCode.UNAUTHORIZED).getBody();
      case HttpStatus.FORBIDDEN:
        return this.reported('forbidden', SecurityErrorCode.FORBIDDEN, socket, event);
      case HttpStatus.NOT_FOUND:
        return new WsSecurityException(SecurityErrorCode.NOT_FOUND).getBody();
      default:
        return status >= 400 && status < 500 ? new WsSecurityException(SecurityErrorCode.BAD_REQUEST).getBody() : this.internal(exception, socket, event);
    }
  }

  private internal(exception: unknown, socket: Socket | undefined, event: string | undefined): SecurityErrorBody {
    const where = `${socket?.nsp !== undefined ? ` on ${JSON.stringify(socket.nsp.name)}` : ''}${event !== undefined ? ` event ${JSON.stringify(String(event).slice(0, 64))}` : ''}`;
    this.logger.error(`handler failed${where}: ${describe(exception)}`, exception instanceof Error ? exception.stack : undefined);
    return this.reported('internal_error', SecurityErrorCode.INTERNAL, socket, event);
  }

  private reported(kind: SecurityEventKind, code: SecurityErrorCode, socket: Socket | undefined, event: string | undefined): SecurityErrorBody {
    const principal = sessionOf(socket)?.principal;
    this.events.emit({
      kind,
      code,
      ...(principal !== undefined ? { userId: principal.userId, tenantId: principal.tenantId } : {}),
      ...(socket?.nsp !== undefined ? { namespace: socket.nsp.name } : {}),
      ...(typeof event === 'string' ? { event } : {}),
    });
    return new WsSecurityException(code).getBody();
  }
}
