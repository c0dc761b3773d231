import { Controller, Req, Sse, type MessageEvent } from '@nestjs/common';
import { filter, type Observable } from 'rxjs';
import { hasPermission, SseAuthorize, SsePrincipal, SseTopics, ssePrincipalOf, type Principal } from '../../lib/index.js';
import { mentionTopic, type MentionEvent } from './mentions.js';

/**
 * `GET /chat/notifications` of SAMPLE_CONTRACT.md: a `text/event-stream` of `mention` events
 * for the caller, needing `notifications:read`. The module authenticates it (Bearer, the
 * `rt_session` cookie from an allowed Origin, or a stream ticket), counts it toward the
 * per-user ceiling with the user's sockets, shows the user online, and ends it on expiry or ban.
 */
@Controller('chat')
export class NotificationsController {
  constructor(private readonly topics: SseTopics) {}

  @SseAuthorize('notifications:read')
  @Sse('notifications')
  notifications(@SsePrincipal() principal: Principal, @Req() request: object): Observable<MessageEvent> {
    // Only mentions in channels the user can read now (moderation may narrow it while open).
    return this.topics.stream(principal, mentionTopic(principal.userId)).pipe(
      filter((event) => {
        const current = ssePrincipalOf(request) ?? principal;
        const channelId = (event.data as MentionEvent).channelId;
        return hasPermission(current.permissions, { resource: 'channel', action: 'read', id: channelId });
      }),
    );
  }
}
