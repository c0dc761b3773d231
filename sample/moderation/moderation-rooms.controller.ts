import { BadRequestException, Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { InvalidPresenceQueryError, PresenceService } from '../../lib/index.js';
import { CHANNEL_ID, RESERVED_IDS } from '../chat/channel.dto.js';
import { BearerPermissionGuard, type AuthenticatedRequest } from './bearer-permission.guard.js';
import { HttpPermission } from './http-permission.decorator.js';

/** `GET /moderation/rooms/:channelId/presence` of SAMPLE_CONTRACT.md: who is in a channel of the caller's tenant. */
@Controller('moderation/rooms')
@UseGuards(BearerPermissionGuard)
@HttpPermission('moderation:read')
export class ModerationRoomsController {
  constructor(private readonly presence: PresenceService) {}

  /** Members of the channel: up to `limit` (1..1000, default 1000), `cursor` for the next page. */
  @Get(':channelId/presence')
  async members(@Req() request: AuthenticatedRequest, @Param('channelId') channelId: string, @Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    if (!CHANNEL_ID.test(channelId) || RESERVED_IDS.includes(channelId)) throw new BadRequestException('Invalid channelId');
    const parsed = limit === undefined ? 1000 : /^\d{1,4}$/.test(limit) ? Number(limit) : Number.NaN;
    try {
      const page = await this.presence.listInRoom(request.principal.tenantId, `channel:${channelId}`, { limit: parsed, ...(cursor !== undefined ? { cursor } : {}) });
      return {
        members: page.members.map((m) => ({ userId: m.userId, connections: m.connections })),
        ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}),
      };
    } catch (error) {
      if (error instanceof InvalidPresenceQueryError) throw new BadRequestException(`Invalid ${error.argument}`);
      throw error;
    }
  }
}
