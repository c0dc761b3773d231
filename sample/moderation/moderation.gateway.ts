import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import { PresenceService, WsAuthorize, WsPrincipal, type Principal } from '../../lib/index.js';

/** The `/moderation` namespace of SAMPLE_CONTRACT.md: every event needs `moderation:read`. */
@WebSocketGateway({ namespace: '/moderation' })
@WsAuthorize('moderation:read')
export class ModerationGateway {
  constructor(private readonly presence: PresenceService) {}

  /** Online users of the caller's tenant, with their connection counts. */
  @SubscribeMessage('presence:list')
  async presenceList(@WsPrincipal() principal: Principal) {
    const page = await this.presence.listOnline(principal.tenantId, { limit: 1000 });
    return {
      ok: true,
      users: page.users.map((u) => ({ userId: u.userId, status: u.status, connections: u.connections, lastSeen: u.lastSeen })),
    };
  }
}
