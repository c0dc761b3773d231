import { BadRequestException, Controller, Get, Param, Query, Req, UseGuards } from '@nestjs/common';
import { InvalidPresenceQueryError, PresenceService, type PresenceRecord } from '../../lib/index.js';
import { BearerPermissionGuard, type AuthenticatedRequest } from './bearer-permission.guard.js';
import { HttpPermission } from './http-permission.decorator.js';

/** What a moderator sees of one user. */
export interface ModerationPresenceView {
  userId: string;
  status: 'online' | 'offline';
  connections: number;
  lastSeen: number | null;
}

/** `GET /moderation/presence[/:userId]` of SAMPLE_CONTRACT.md, within the caller's tenant. */
@Controller('moderation/presence')
@UseGuards(BearerPermissionGuard)
@HttpPermission('moderation:read')
export class ModerationPresenceController {
  constructor(private readonly presence: PresenceService) {}

  /** Online users of the caller's tenant: up to `limit` (1..1000, default 1000), `cursor` for the next page. */
  @Get()
  async list(@Req() request: AuthenticatedRequest, @Query('cursor') cursor?: string, @Query('limit') limit?: string) {
    const parsed = limit === undefined ? 1000 : /^\d{1,4}$/.test(limit) ? Number(limit) : Number.NaN;
    try {
      const page = await this.presence.listOnline(request.principal.tenantId, { limit: parsed, ...(cursor !== undefined ? { cursor } : {}) });
      return { users: page.users.map(view), ...(page.nextCursor !== undefined ? { nextCursor: page.nextCursor } : {}) };
    } catch (error) {
      if (error instanceof InvalidPresenceQueryError) throw new BadRequestException(`Invalid ${error.argument}`);
      throw error;
    }
  }

  /** One user of the caller's tenant; a user never seen is offline with `lastSeen: null`. */
  @Get(':userId')
  async one(@Req() request: AuthenticatedRequest, @Param('userId') userId: string) {
    try {
      return view(await this.presence.get(request.principal.tenantId, userId));
    } catch (error) {
      if (error instanceof InvalidPresenceQueryError) throw new BadRequestException(`Invalid ${error.argument}`);
      throw error;
    }
  }
}

function view(record: PresenceRecord): ModerationPresenceView {
  return { userId: record.userId, status: record.status, connections: record.connections, lastSeen: record.lastSeen };
}
