import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { HandlerCache } from '../utils/handler-cache.js';
import { readSseRule, type SseAccessRule } from './sse-access-rule.js';
import { attachSseConnection } from './sse-request.js';
import { isSseHandler, routePathOf } from './sse-route.reader.js';
import { SseStreamService, type SseRequest } from './sse-stream.service.js';

interface RouteFacts {
  readonly sse: boolean;
  readonly rule: SseAccessRule;
  readonly route: string;
}

/**
 * The guard the module puts first on every `@Sse()` route of the app (found at start-up): the
 * stream is authenticated, authorized and counted before its first byte (see
 * {@link SseStreamService.admit}). An `@Sse()` route with neither `@SseAuthorize` nor
 * `@SsePublic()` is refused with 403 `FORBIDDEN`. Anything else passes untouched.
 */
@Injectable()
export class SseStreamGuard implements CanActivate {
  private readonly facts = new HandlerCache<RouteFacts>();

  constructor(private readonly streams: SseStreamService) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    const facts = this.factsOf(context);
    if (!facts.sse) return true;
    return this.admit(context, facts);
  }

  private async admit(context: ExecutionContext, facts: RouteFacts): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<SseRequest & { raw?: SseRequest }>();
    const response = http.getResponse<{ raw?: NodeJS.EventEmitter } & NodeJS.EventEmitter>();
    // Express hands the Node request itself; Fastify a wrapper (route params on it, the socket on `raw`).
    const raw = request.raw ?? request;
    const view: SseRequest = {
      headers: request.headers,
      ...(request.originalUrl !== undefined ? { originalUrl: request.originalUrl } : {}),
      ...((raw.url ?? request.url) !== undefined ? { url: raw.url ?? request.url } : {}),
      ...(request.params !== undefined ? { params: request.params } : {}),
      ...(raw.socket !== undefined ? { socket: raw.socket } : {}),
    };
    const connection = await this.streams.admit(view, facts.route, facts.rule);
    attachSseConnection(request, connection);
    // A later guard, pipe or the client leaving before the stream opens still gives the slot back.
    (response.raw ?? response).once('close', () => {
      if (connection.state === 'admitted') connection.end(null);
    });
    return true;
  }

  private factsOf(context: ExecutionContext): RouteFacts {
    const handler = context.getHandler();
    const controller = context.getClass();
    let facts = this.facts.get(handler, controller);
    if (facts === undefined) {
      facts = { sse: isSseHandler(handler), rule: readSseRule(handler, controller), route: routePathOf(controller, handler) };
      this.facts.set(handler, controller, facts);
    }
    return facts;
  }
}
