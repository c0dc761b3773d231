import type { CallHandler, ExecutionContext, MessageEvent, NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { sseConnectionOf } from './sse-request.js';

/**
 * Put first on every `@Sse()` route at start-up (method-level, so neither other HTTP routes nor
 * gateway messages pay for it): the events of an admitted stream pass through the stream
 * service that admitted it (lifetime, moderation, heartbeats, one release). Stateless: one
 * instance serves every app of the process, even apps that share a controller class.
 */
export class SseStreamInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const connection = context.getType() === 'http' ? sseConnectionOf(context.switchToHttp().getRequest<unknown>()) : undefined;
    if (connection === undefined || connection.intercepted) return next.handle();
    connection.intercepted = true;
    return connection.attach(next.handle() as Observable<MessageEvent>);
  }
}

/** The one instance the module installs on `@Sse()` routes. */
export const SSE_STREAM_INTERCEPTOR = new SseStreamInterceptor();
