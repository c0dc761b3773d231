import { createHash } from 'node:crypto';

/** `@alice` in a message mentions user `alice` (at most this many distinct users per message). */
const MENTION = /(?:^|[^A-Za-z0-9_.-])@([A-Za-z0-9][A-Za-z0-9_.-]{0,63})/g;
const MAX_MENTIONS = 10;

/** The users a message mentions, each once. */
export function mentionedUsers(text: string): string[] {
  const found = new Set<string>();
  for (const match of text.matchAll(MENTION)) {
    found.add(match[1] as string);
    if (found.size >= MAX_MENTIONS) break;
  }
  return [...found];
}

/** The notification topic of a user (a hash: any user id gives a valid topic name). */
export function mentionTopic(userId: string): string {
  return `mention.${createHash('sha256').update(userId).digest('hex').slice(0, 32)}`;
}

/** What a `mention` event carries. */
export interface MentionEvent {
  readonly channelId: string;
  readonly from: string;
  readonly text: string;
}
