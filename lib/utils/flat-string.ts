/**
 * A flat copy of a string built by concatenation. V8 keeps `a + b` (and template literals) as a
 * rope of its parts, and hashing it as a Map key does not flatten it: a key held per connection
 * would keep every part alive (Node's `randomUUID()` is a rope of about twenty strings, 490 bytes).
 * For strings kept as long as a connection, built once per handshake.
 */
export function flatString(value: string): string {
  return JSON.parse(JSON.stringify(value)) as string;
}
