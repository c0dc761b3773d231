import { createRequire } from 'node:module';

/**
 * socket.io-parser as Socket.IO itself loads it: `require`d from socket.io's own location. An ESM
 * `import` would resolve to the parser's `esm-debug` build (its `exports` map sends Node's `import`
 * there), whose `debug()` calls cost a few microseconds on every packet, and could pick another copy
 * than the one socket.io depends on.
 */
const requireFromHere = createRequire(import.meta.url);
const { Decoder, Encoder } = createRequire(requireFromHere.resolve('socket.io'))('socket.io-parser') as typeof import('socket.io-parser');
type Encoder = import('socket.io-parser').Encoder;
type Decoder = import('socket.io-parser').Decoder;

/** A Socket.IO `parser` (server option): the stock encoder, and a decoder with an attachment cap. */
export interface SocketIoParser {
  Encoder: typeof Encoder;
  Decoder: typeof Decoder;
}

/**
 * The stock Socket.IO parser with the number of binary attachments per packet capped at `max`.
 * A binary packet announces its attachment count (`51-["ev",{"_placeholder":true,"num":0}]`)
 * and the decoder then buffers that many frames: the cap is checked on the announcement, before
 * anything is buffered, whatever the installed parser's own default (socket.io-parser < 4.2.5 has
 * none). Over the cap, or a malformed count, the decoder throws and Socket.IO closes the
 * connection. Placeholders pointing outside the attachments are refused by the parser itself.
 */
export function attachmentLimitedParser(max: number): SocketIoParser {
  class AttachmentLimitedDecoder extends Decoder {
    constructor() {
      super({ maxAttachments: Math.max(1, max) });
    }

    override add(chunk: unknown): void {
      if (typeof chunk === 'string' && (chunk.charCodeAt(0) === 53 || chunk.charCodeAt(0) === 54)) {
        // '5' BINARY_EVENT or '6' BINARY_ACK: digits up to '-' are the attachment count.
        const dash = chunk.indexOf('-');
        const count = dash > 1 && dash <= 8 ? Number(chunk.slice(1, dash)) : Number.NaN;
        if (!Number.isInteger(count) || count < 1 || count > max) throw new Error('too many attachments');
      }
      super.add(chunk);
    }
  }
  return { Encoder, Decoder: AttachmentLimitedDecoder };
}
