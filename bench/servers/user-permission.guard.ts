import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';
import type { Socket } from 'socket.io';
import type { TunedUser } from './tuned-io.adapter.js';

/** `tuned`'s permission check: one synchronous guard reading the claims the handshake kept. */
@Injectable()
export class UserPermissionGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const user = context.switchToWs().getClient<Socket>().data.user as TunedUser | undefined;
    if (user === undefined || !user.perms.includes('channel:write')) throw new WsException('Forbidden');
    return true;
  }
}
