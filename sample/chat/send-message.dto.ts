import { IsNotIn, IsString, Length, Matches } from 'class-validator';
import { CHANNEL_ID, RESERVED_IDS } from './channel.dto.js';

/** `message:send`: `{ channelId, text }` with text of 1..2000 characters. */
export class SendMessageDto {
  @IsString()
  @Matches(CHANNEL_ID)
  @IsNotIn(RESERVED_IDS)
  channelId!: string;

  @IsString()
  @Length(1, 2000)
  text!: string;
}
