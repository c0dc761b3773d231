import * as z from 'zod';
import { CHANNEL_ID, RESERVED_IDS } from './channel.dto.js';

/**
 * `channel:leave`: `{ channelId }`, as a zod schema (Standard Schema) instead of a DTO class. The
 * same rules as `ChannelDto`: a channel id of the library's resource id shape, no other property.
 * Used through `@MessageBody({ schema: channelSchema })`; `WsValidationPipe` applies its caps and
 * forbidden-key checks first, then the schema, and hands the handler the schema's output.
 */
export const channelSchema = z.strictObject({
  channelId: z.string().regex(CHANNEL_ID).refine((id) => !RESERVED_IDS.includes(id), { error: 'reserved' }),
});

export type ChannelInput = z.infer<typeof channelSchema>;
