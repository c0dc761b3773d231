/** A chat message as delivered to a channel's members. */
export interface ChatMessage {
  readonly id: string;
  readonly channelId: string;
  readonly userId: string;
  readonly text: string;
  readonly sentAt: number;
}
