import { randomUUID } from 'node:crypto';
import { UsePipes } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import { PresenceService, SecurityErrorCode, WsAuthorize, WsPrincipal, WsSecurityException, WsValidationPipe, type Principal } from '../../lib/index.js';
import { ChannelDto } from './channel.dto.js';
import type { ChatMessage } from './chat-message.js';
import { SendMessageDto } from './send-message.dto.js';

/**
 * The `/chat` namespace of SAMPLE_CONTRACT.md. Every payload is validated against its DTO
 * (`VALIDATION_FAILED` otherwise); messages are rate limited per user by the module.
 */
@WebSocketGateway({ namespace: '/chat' })
@UsePipes(new WsValidationPipe())
export class ChatGateway {
  @WebSocketServer()
  private readonly server!: Namespace;

  constructor(private readonly presence: PresenceService) {}

  /** Online users of the caller's own tenant, as the server observes them. */
  @WsAuthorize('presence:read')
  @SubscribeMessage('presence:list')
  async presenceList(@WsPrincipal() principal: Principal) {
    const page = await this.presence.listOnline(principal.tenantId, { limit: 1000 });
    return { ok: true, users: page.users.map((u) => ({ userId: u.userId, status: u.status, lastSeen: u.lastSeen })) };
  }

  @SubscribeMessage('channel:join')
  async join(@ConnectedSocket() socket: Socket, @WsPrincipal() principal: Principal, @MessageBody() body: ChannelDto) {
    await socket.join(channelRoom(principal, body.channelId));
    return { ok: true };
  }

  @SubscribeMessage('channel:leave')
  async leave(@ConnectedSocket() socket: Socket, @WsPrincipal() principal: Principal, @MessageBody() body: ChannelDto) {
    const room = channelRoom(principal, body.channelId);
    if (!socket.rooms.has(room)) throw new WsSecurityException(SecurityErrorCode.NOT_FOUND);
    await socket.leave(room);
    return { ok: true };
  }

  @SubscribeMessage('message:send')
  send(@ConnectedSocket() socket: Socket, @WsPrincipal() principal: Principal, @MessageBody() body: SendMessageDto) {
    const room = channelRoom(principal, body.channelId);
    if (!socket.rooms.has(room)) throw new WsSecurityException(SecurityErrorCode.FORBIDDEN, { message: 'Join the channel first' });
    const message: ChatMessage = { id: randomUUID(), channelId: body.channelId, userId: principal.userId, text: body.text, sentAt: Date.now() };
    this.server.to(room).emit('message', message);
    return { ok: true, id: message.id };
  }
}

function channelRoom(principal: Principal, channelId: string): string {
  return `channel:${encodeURIComponent(principal.tenantId)}:${encodeURIComponent(channelId)}`;
}
