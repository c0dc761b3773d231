import { BadRequestException, Body, Controller, Delete, HttpCode, Param, Post, Req, UseGuards } from '@nestjs/common';
import { isIdentifier, ModerationService } from '../../lib/index.js';
import { BearerPermissionGuard, type AuthenticatedRequest } from './bearer-permission.guard.js';
import { HttpPermission } from './http-permission.decorator.js';

/** Optional body of `POST /moderation/users/:userId/ban`. */
export interface BanRequest {
  /** When the ban ends, epoch milliseconds in the future; absent: until unbanned. */
  until?: number;
  /** Why (for the operators' log, at most 500 characters). */
  reason?: string;
}

/**
 * `POST /moderation/users/:userId/disconnect`, `POST` and `DELETE /moderation/users/:userId/ban`
 * of SAMPLE_CONTRACT.md: `moderation:write`, always within the caller's own tenant, enforced on
 * every node (through the library's `ModerationService`).
 */
@Controller('moderation/users')
@UseGuards(BearerPermissionGuard)
@HttpPermission('moderation:write')
export class ModerationUsersController {
  constructor(private readonly moderation: ModerationService) {}

  /** Closes every socket of the user. */
  @Post(':userId/disconnect')
  @HttpCode(200)
  async disconnect(@Req() request: AuthenticatedRequest, @Param('userId') userId: string) {
    await this.moderation.disconnectUser(request.principal.tenantId, checkUserId(userId));
    return { ok: true };
  }

  /** Closes every socket of the user and refuses their handshakes with `BANNED` until unbanned (or `until`). */
  @Post(':userId/ban')
  @HttpCode(200)
  async ban(@Req() request: AuthenticatedRequest, @Param('userId') userId: string, @Body() body: unknown) {
    const { until, reason } = checkBanRequest(body);
    const record = await this.moderation.banUser(request.principal.tenantId, checkUserId(userId), {
      ...(until !== undefined ? { until } : {}),
      ...(reason !== undefined ? { reason } : {}),
    });
    return { ok: true, until: record.until };
  }

  /** Lifts the ban. */
  @Delete(':userId/ban')
  @HttpCode(200)
  async unban(@Req() request: AuthenticatedRequest, @Param('userId') userId: string) {
    await this.moderation.unbanUser(request.principal.tenantId, checkUserId(userId));
    return { ok: true };
  }
}

function checkUserId(userId: string): string {
  // The library's identifier rule, the one its handshake applies to `sub`: any user who can connect can be moderated.
  if (!isIdentifier(userId)) throw new BadRequestException('Invalid userId');
  return userId;
}

function checkBanRequest(body: unknown): BanRequest {
  if (body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new BadRequestException('Invalid body');
  const { until, reason, ...rest } = body as Record<string, unknown>;
  if (Object.keys(rest).length > 0) throw new BadRequestException('Unknown field');
  if (until !== undefined && (typeof until !== 'number' || !Number.isSafeInteger(until) || until <= Date.now())) {
    throw new BadRequestException('Invalid until (epoch milliseconds in the future)');
  }
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) throw new BadRequestException('Invalid reason');
  return { ...(until !== undefined ? { until } : {}), ...(reason !== undefined ? { reason } : {}) };
}
