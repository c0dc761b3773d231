import { Injectable } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard, type ThrottlerRequest } from '@nestjs/throttler';
import { WsException } from '@nestjs/websockets';
import type { Socket } from 'socket.io';

/** The tutorial per-socket throttler: `ThrottlerGuard` keyed by the socket id (Nest docs' WebSocket recipe). */
@Injectable()
export class SocketThrottlerGuard extends ThrottlerGuard {
  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, generateKey } = request;
    const client = context.switchToWs().getClient<Socket>();
    const name = throttler.name ?? 'default';
    const key = generateKey(context, client.id, name);
    const { isBlocked } = await this.storageService.increment(key, ttl, limit, blockDuration, name);
    if (isBlocked) throw new WsException(new ThrottlerException().message);
    return true;
  }
}
