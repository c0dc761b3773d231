import { Injectable } from '@nestjs/common';
import { ThrottlerException, ThrottlerGuard, type ThrottlerRequest } from '@nestjs/throttler';
import { WsException } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import type { TunedUser } from './tuned-io.adapter.js';

/** `tuned`'s rate limit: `@nestjs/throttler`'s guard keyed by the user (not the socket), answered as a `WsException`. */
@Injectable()
export class UserThrottlerGuard extends ThrottlerGuard {
  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    const { context, limit, ttl, throttler, blockDuration, generateKey } = request;
    const user = context.switchToWs().getClient<Socket>().data.user as TunedUser;
    const name = throttler.name ?? 'default';
    const { isBlocked } = await this.storageService.increment(generateKey(context, user.sub, name), ttl, limit, blockDuration, name);
    if (isBlocked) throw new WsException(new ThrottlerException().message);
    return true;
  }
}
