import { IsInt, IsNotIn, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { CHANNEL_ID, RESERVED_IDS } from './channel.dto.js';

/** `presence:room`: `{ channelId, cursor?, limit? }`; limit 1..1000 (default 100). */
export class RoomPresenceDto {
  @IsString()
  @Matches(CHANNEL_ID)
  @IsNotIn(RESERVED_IDS)
  channelId!: string;

  @IsOptional()
  @IsString()
  @MaxLength(1024)
  cursor?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}
