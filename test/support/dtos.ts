import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsInt, IsNotIn, IsObject, IsOptional, IsString, Length, Matches, Max, Min, ValidateNested } from 'class-validator';

/** Names that reach a prototype if ever used as a key: never valid ids. */
const RESERVED_IDS = ['__proto__', 'constructor', 'prototype'];

/** `{ channelId }`: 1..64 characters of letters, digits, `_` and `-`, not a prototype key. */
export class ChannelDto {
  @IsString()
  @Length(1, 64)
  @Matches(/^[A-Za-z0-9_-]+$/)
  @IsNotIn(RESERVED_IDS)
  channelId!: string;
}

/** `{ channelId, text }` with text 1..2000 characters. */
export class SendDto {
  @IsString()
  @Length(1, 64)
  @Matches(/^[A-Za-z0-9_-]+$/)
  @IsNotIn(RESERVED_IDS)
  channelId!: string;

  @IsString()
  @Length(1, 2000)
  text!: string;
}

export class TagDto {
  @IsString()
  @Length(1, 32)
  name!: string;

  @IsInt()
  @Min(0)
  @Max(100)
  weight!: number;
}

/**
 * Nested objects and arrays of nested objects, for paths and depth. `@ValidateNested()` alone
 * accepts a missing value and an array (it validates each element of none): `@IsObject()` is
 * what makes `tag` required and an object, and `@IsObject({ each: true })` what makes every
 * element of `tags` an object (`tags: [[]]` passes `@ValidateNested({ each: true })` alone). The
 * property test found all three.
 */
export class NestedDto {
  @IsObject()
  @ValidateNested()
  @Type(() => TagDto)
  tag!: TagDto;

  @IsArray()
  @ArrayMaxSize(10)
  @IsObject({ each: true })
  @ValidateNested({ each: true })
  @Type(() => TagDto)
  tags!: TagDto[];

  @IsOptional()
  @IsBoolean()
  pinned?: boolean;
}
