import { IsNotIn, IsString, Length, Matches } from 'class-validator';

/** `{ channelId, text }`: the echo payload, validated like the sample's `SendMessageDto`. */
export class EchoDto {
  @IsString()
  @Length(1, 64)
  @Matches(/^[A-Za-z0-9_-]+$/)
  @IsNotIn(['__proto__', 'constructor', 'prototype'])
  channelId!: string;

  @IsString()
  @Length(1, 2000)
  text!: string;
}
