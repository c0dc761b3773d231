import { Injectable, type CallHandler, type ExecutionContext, type MessageEvent, type NestInterceptor } from '@nestjs/common';
import type { Observable } from 'rxjs';
import { sseConnectionOf } from './sse-request.js';
import { SseStreamService } from './sse-stream.service.js';

/**
 * A global interceptor the module installs: the events of an admitted `@Sse()` stream pass
 * through {@link SseStreamService.attach} (lifetime, moderation, heartbeats, one release).
 */
@Injectable()
export class SseStreamInterceptor implements NestInterceptor {
  constructor(private readonly streams: SseStreamService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const connection = context.getType() === 'http' ? sseConnectionOf(context.switchToHttp().getRequest<unknown>()) : undefined;
    if (connection === undefined) return next.handle();
    return this.streams.attach(connection, next.handle() as Observable<MessageEvent>);
  }
}
