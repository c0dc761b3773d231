import { randomUUID } from 'node:crypto';
import { Inject, UsePipes } from '@nestjs/common';
import { ConnectedSocket, MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, type OnGatewayInit } from '@nestjs/websockets';
import type { Namespace, Socket } from 'socket.io';
import {
  InvalidPresenceQueryError, PermissionResolver, PresenceService, SecurityErrorCode, SseTopics, TenantRooms, WsAuthorize, WsPrincipal, WsPublic, WsThrottle,
  WsSecurityException, WsValidationPipe, type Principal,
} from '../../lib/index.js';
import { ChannelDto } from './channel.dto.js';
import { channelSchema, type ChannelInput } from './channel.schema.js';
import type { ChatMessage } from './chat-message.js';
import { RoomPresenceDto } from './room-presence.dto.js';
import { SendMessageDto } from './send-message.dto.js';
import { SAMPLE_CONFIG, type SampleConfig } from '../config/sample-config.js';
import { mentionedUsers, mentionTopic, type MentionEvent } from './mentions.js';

/** The server-side event carrying a mention to the other nodes (cluster mode). */
const MENTION_RELAY = 'sample:mention';

interface MentionRelay {
  readonly tenantId: string;
  readonly userId: string;
  readonly mention: MentionEvent;
}

/**
 * The `/chat` namespace of SAMPLE_CONTRACT.md. Every payload is validated against its DTO, or
 * for `channel:leave` its zod schema (`VALIDATION_FAILED` otherwise); messages are rate limited per user by the module. Channels
 * are tenant rooms (`TenantRooms`): a permission removed by moderation evicts the socket.
 */
@WebSocketGateway({ namespace: '/chat' })
@UsePipes(new WsValidationPipe())
export class ChatGateway implements OnGatewayInit {
  @WebSocketServer()
  private readonly server!: Namespace;

  constructor(
    private readonly presence: PresenceService,
    private readonly rooms: TenantRooms,
    @Inject(PermissionResolver) private readonly resolver: PermissionResolver,
    private readonly topics: SseTopics,
    @Inject(SAMPLE_CONFIG) private readonly config: SampleConfig,
  ) {}

  /** In cluster mode, mentions sent on another node reach this node's notification streams. */
  afterInit(server: Namespace): void {
    if (this.config.redisUrl === null) return;
    server.on(MENTION_RELAY, (relay: MentionRelay) => this.deliverMention(relay));
  }

  /**
   * Who is in a channel (room presence: sockets that joined it, every node), a page at a time.
   * Needs `presence:read` and `channel:read` covering the channel; never anything of another tenant.
   * Reads have their own per-user counter (60 per 10 s): the page refreshes device counts on its
   * own, and that must not spend the budget a user has for sending messages.
   */
  @WsAuthorize('presence:read')
  @WsThrottle({ limit: 60, ttl: 10_000 })
  @SubscribeMessage('presence:room')
  async presenceRoom(@ConnectedSocket() socket: Socket, @WsPrincipal() principal: Principal, @MessageBody() body: RoomPresenceDto) {
    const canRead = await this.resolver.isAllowed({ principal, permission: 'channel:read', resourceId: body.channelId, namespace: socket.nsp.name, event: 'presence:room' });
    if (canRead !== true) throw new WsSecurityException(SecurityErrorCode.FORBIDDEN);
    try {
      const page = await this.presence.listInRoom(principal.tenantId, `channel:${body.channelId}`, {
        limit: body.limit ?? 100, ...(body.cursor !== undefined ? { cursor: body.cursor } : {}),
      });
      return {
        ok: true,
        members: page.members.map((m) => ({ userId: m.userId, connections: m.connections })),
        ...(page.nextCursor !== undefined ? { cursor: page.nextCursor } : {}),
      };
    } catch (error) {
      if (error instanceof InvalidPresenceQueryError) {
        throw new WsSecurityException(SecurityErrorCode.VALIDATION_FAILED, { fields: [{ path: error.argument, constraints: ['presence'] }] });
      }
      throw error;
    }
  }

  /** Online users of the caller's own tenant, as the server observes them. */
  @WsAuthorize('presence:read')
  @SubscribeMessage('presence:list')
  async presenceList(@WsPrincipal() principal: Principal) {
    const page = await this.presence.listOnline(principal.tenantId, { limit: 1000 });
    return { ok: true, users: page.users.map((u) => ({ userId: u.userId, status: u.status, lastSeen: u.lastSeen })) };
  }

  /** Needs `channel:read` covering the channel (`channel:read`, `channel:read:<id>`, wildcards). */
  @WsAuthorize('channel:read', { resource: 'channelId' })
  @SubscribeMessage('channel:join')
  async join(@ConnectedSocket() socket: Socket, @MessageBody() body: ChannelDto) {
    await this.rooms.join(socket, 'channel', body.channelId);
    return { ok: true };
  }

  /** Needs only to be in the channel (contract): `NOT_FOUND` otherwise. Validated by a zod schema. */
  @WsPublic()
  @SubscribeMessage('channel:leave')
  async leave(@ConnectedSocket() socket: Socket, @MessageBody({ schema: channelSchema }) body: ChannelInput) {
    if (!(await this.rooms.leave(socket, 'channel', body.channelId))) throw new WsSecurityException(SecurityErrorCode.NOT_FOUND);
    return { ok: true };
  }

  /** Needs `channel:write` covering the channel, and to be in it. */
  @WsAuthorize('channel:write', { resource: 'channelId' })
  @SubscribeMessage('message:send')
  send(@ConnectedSocket() socket: Socket, @WsPrincipal() principal: Principal, @MessageBody() body: SendMessageDto) {
    if (!this.rooms.has(socket, 'channel', body.channelId)) throw new WsSecurityException(SecurityErrorCode.FORBIDDEN, { message: 'Join the channel first' });
    const message: ChatMessage = { id: randomUUID(), channelId: body.channelId, userId: principal.userId, text: body.text, sentAt: Date.now() };
    this.server.to(this.rooms.roomFor(principal, 'channel', body.channelId)).emit('message', message);
    // `@userId` in the text: a `mention` event on that user's notification streams (same tenant only).
    for (const userId of mentionedUsers(body.text)) {
      const relay: MentionRelay = { tenantId: principal.tenantId, userId, mention: { channelId: body.channelId, from: principal.userId, text: body.text } };
      this.deliverMention(relay);
      if (this.config.redisUrl !== null) this.server.serverSideEmit(MENTION_RELAY, relay);
    }
    return { ok: true, id: message.id };
  }

  private deliverMention(relay: MentionRelay): void {
    if (typeof relay?.tenantId !== 'string' || typeof relay.userId !== 'string' || relay.tenantId.length === 0) return;
    this.topics.publish(relay.tenantId, mentionTopic(relay.userId), { type: 'mention', data: relay.mention });
  }
}
