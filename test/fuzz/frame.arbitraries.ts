import fc from 'fast-check';

/**
 * Generators of Engine.IO / Socket.IO input for the fuzz suite: structured packets with every
 * field fuzzed, mutations of valid frames, arbitrary text and bytes, and well-formed events with
 * an ack id (whose ack must come back, or the connection be closed).
 */

/** A frame on the wire: text, or bytes (a binary websocket frame). */
export type Frame = string | Buffer;

/** A well-formed event with an ack id to a handler of the fuzz gateway. */
export interface AckedEvent {
  readonly kind: 'acked';
  readonly id: number;
  readonly frame: string;
}

/** Anything else. */
export interface RawFrame {
  readonly kind: 'raw';
  readonly frame: Frame;
}

export type FuzzFrame = AckedEvent | RawFrame;

/** JSON texts meant to hurt: prototype keys, placeholders, depth, odd numbers, near-misses of the DTO. */
const NASTY_JSON = [
  '{"__proto__":{"polluted":true}}',
  '{"constructor":{"prototype":{"polluted":true}}}',
  '[{"__proto__":{"polluted":true}}]',
  '{"a":{"b":{"__proto__":{"polluted":true}}}}',
  '{"_placeholder":true,"num":0}',
  '{"_placeholder":true,"num":99999999}',
  '{"channelId":"general","text":"hi"}',
  '{"channelId":"__proto__","text":"x"}',
  '{"channelId":"","text":""}',
  '{"channelId":{"toString":"x"},"text":[]}',
  '{"toString":1,"valueOf":2,"hasOwnProperty":3}',
  `${'['.repeat(200)}${']'.repeat(200)}`,
  `${'{"a":'.repeat(100)}1${'}'.repeat(100)}`,
  '1e309',
  '-0',
  '9007199254740993',
  'null',
  '"\\u0000\\ud800"',
];

/** A JSON text: generated values or a nasty one. */
export const jsonText: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY_JSON) },
  { weight: 1, arbitrary: fc.record({ channelId: fc.string({ maxLength: 70 }), text: fc.string({ maxLength: 50 }) }).map((v) => JSON.stringify(v)) },
);

/** Event names handled by the fuzz gateway, reserved names, and odd ones. */
export const eventName: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('"echo"', '"send"', '"boom"', '"control"', '"connect"', '"disconnect"', '"error"', '"newListener"', '"__proto__"', '"constructor"', '"toString"'),
  fc.constantFrom('1', 'null', '{}', '[]', 'true'),
  fc.string({ maxLength: 20 }).map((s) => JSON.stringify(s)),
);

const NAMESPACES = ['', '/chat,', '/', '/chat', '/nope,', '/chat,,', '//,', `/${'n'.repeat(300)},`, '/chat/..,', '/__proto__,'];

/** A Socket.IO packet (after the engine `4`) with every part fuzzed. */
export const sioPacket: fc.Arbitrary<string> = fc
  .tuple(
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom('0', '1', '2', '3', '4', '5', '6') }, { weight: 1, arbitrary: fc.string({ maxLength: 2 }) }),
    fc.oneof({ weight: 3, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('0-', '1-', '2-', '99999999999-', '-1-', '1e3-', 'x-') }),
    fc.constantFrom(...NAMESPACES),
    fc.oneof({ weight: 2, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('1', '0', '4294967296', '99999999999999999999', '-1', '1.5') }),
    fc.oneof(
      { weight: 3, arbitrary: fc.tuple(eventName, fc.array(jsonText, { maxLength: 3 })).map(([name, args]) => `[${[name, ...args].join(',')}]`) },
      { weight: 1, arbitrary: jsonText },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
      { weight: 1, arbitrary: fc.constant('') },
    ),
  )
  .map(([type, attachments, nsp, id, payload]) => `${type}${attachments}${nsp}${id}${payload}`);

/** Valid frames, mutated below. */
const VALID_FRAMES = [
  '40/chat,{"token":"x.y.z"}',
  '42/chat,["echo",{"a":1}]',
  '42/chat,7["send",{"channelId":"general","text":"hello"}]',
  '451-/chat,["echo",{"_placeholder":true,"num":0}]',
  '461-/chat,3[{"_placeholder":true,"num":0}]',
  '43/chat,1[{"ok":true}]',
  '41/chat,',
  '2',
  '3',
  '2probe',
  '5',
  '6',
];

const mutation = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.string({ minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), text: fc.string({ minLength: 1, maxLength: 2 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('repeat' as const), times: fc.integer({ min: 2, max: 20 }) }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(frame: string, mutations: readonly Mutation[]): string {
  let out = frame;
  for (const m of mutations) {
    const at = 'at' in m ? m.at % (out.length + 1) : 0;
    switch (m.op) {
      case 'insert': out = out.slice(0, at) + m.text + out.slice(at); break;
      case 'delete': out = out.slice(0, at) + out.slice(at + m.length); break;
      case 'replace': out = out.slice(0, at) + m.text + out.slice(at + m.text.length); break;
      case 'truncate': out = out.slice(0, at); break;
      case 'repeat': out = out.repeat(m.times); break;
    }
  }
  return out;
}

/** A valid frame with 1..4 mutations. */
export const mutatedFrame: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom(...VALID_FRAMES), fc.array(mutation, { minLength: 1, maxLength: 4 }))
  .map(([frame, mutations]) => mutate(frame, mutations));

/** Any raw frame: a fuzzed Socket.IO packet, an engine packet, a mutated one, arbitrary text or bytes. */
export function rawFrame(withBinary: boolean): fc.Arbitrary<RawFrame> {
  const text: fc.Arbitrary<Frame>[] = [
    sioPacket.map((p) => `4${p}`),
    mutatedFrame,
    fc.constantFrom('0', '1', '2', '3', '5', '6', '7', '', '2probe', '3probe', '4', '40', '41', '4{}', 'b', 'bAAAA'),
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'binary', maxLength: 30 }),
  ];
  const bytes: fc.Arbitrary<Frame>[] = withBinary ? [fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))] : [];
  return fc.oneof(...text, ...bytes).map((frame) => ({ kind: 'raw' as const, frame }));
}

/** A well-formed event with an ack id on `/chat`, to `echo`, `send` (validated DTO) or `boom` (throws). */
export const ackedEvent: fc.Arbitrary<AckedEvent> = fc
  .tuple(fc.constantFrom('echo', 'send', 'boom'), fc.array(jsonText, { maxLength: 3 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }))
  .map(([name, args, id]) => ({ kind: 'acked' as const, id, frame: `42/chat,${id}[${[JSON.stringify(name), ...args].join(',')}]` }));

/** 1..4 frames, raw and acked mixed; a third of the sequences hold acked events only (garbage closes early). */
export function frameSequence(withBinary: boolean): fc.Arbitrary<FuzzFrame[]> {
  const mixed = fc.array(fc.oneof({ weight: 3, arbitrary: rawFrame(withBinary) as fc.Arbitrary<FuzzFrame> }, { weight: 2, arbitrary: ackedEvent as fc.Arbitrary<FuzzFrame> }), { minLength: 1, maxLength: 4 });
  const ackedOnly = fc.array(ackedEvent as fc.Arbitrary<FuzzFrame>, { minLength: 1, maxLength: 3 });
  return fc.oneof({ weight: 2, arbitrary: mixed }, { weight: 1, arbitrary: ackedOnly });
}

/** Credentials that must never authenticate: garbage, wrong types, mutated and forged tokens. */
export function badAuth(validToken: string): fc.Arbitrary<string> {
  const [header, claims] = validToken.split('.') as [string, string];
  return fc.oneof(
    fc.constantFrom('', '{}', '{"token":""}', '{"token":null}', '{"token":1}', '{"token":{}}', '{"token":["a"]}', '{"token":"a.b.c"}', '[]', 'null', '"token"',
      `{"token":"${header}.${claims}."}`, `{"token":"${header}.${claims}"}`, `{"token":"eyJhbGciOiJub25lIn0.${claims}."}`, '{"__proto__":{"token":"x"}}'),
    fc.string({ maxLength: 40 }),
    jsonText,
    fc.array(mutation, { minLength: 1, maxLength: 3 }).map((m) => mutate(validToken, m)).filter((t) => t !== validToken).map((token) => JSON.stringify({ token })),
  );
}
