import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/**
 * True for loopback host names and addresses: `localhost`, `*.localhost`, `127.0.0.0/8`, `::1`
 * (in any spelling, IPv4-mapped included). Decided on the literal host, never through DNS.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = bare(hostname);
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  if (family === 4) return LOOPBACK.check(host, 'ipv4');
  if (family === 6) return LOOPBACK.check(host, 'ipv6');
  return false;
}

/**
 * Whether the audit may probe `url`: loopback always; any other host only when it is named
 * exactly (case-insensitive) in `allowedHosts`.
 */
export function isAllowedTarget(url: URL, allowedHosts: readonly string[]): boolean {
  const host = bare(url.hostname);
  if (isLoopbackHost(host)) return true;
  return allowedHosts.some((allowed) => bare(allowed) === host);
}

function bare(host: string): string {
  return host.toLowerCase().replace(/^\[|\]$/g, '');
}
