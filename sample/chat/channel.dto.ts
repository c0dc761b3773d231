import { IsNotIn, IsString, Matches } from 'class-validator';

/** A channel id: 1..128 of letters, digits and `_.-`, starting with a letter or digit (the library's resource id shape). */
export const CHANNEL_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Names that reach a prototype if ever used as a key: never channel ids. */
export const RESERVED_IDS = ['__proto__', 'constructor', 'prototype'];

/** `channel:join` and `channel:leave`: `{ channelId }`. */
export class ChannelDto {
  @IsString()
  @Matches(CHANNEL_ID)
  @IsNotIn(RESERVED_IDS)
  channelId!: string;
}
