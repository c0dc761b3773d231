/** An address as compared with `rateLimit.trustedProxies`: IPv4-mapped IPv6 as IPv4, IPv6 lower-case. */
export function normalizeAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped !== null ? (mapped[1] as string) : address.toLowerCase();
}
