import type { HandlerInventoryEntry, NamespaceInventoryEntry, SecurityInventory } from './security-inventory.interface.js';

/** The inventory as a plain-text table, one block per namespace (what start-up logs). */
export function formatInventory(inventory: SecurityInventory): string {
  const handlers = inventory.namespaces.reduce((n, ns) => n + ns.handlers.length, 0);
  const state = inventory.state === 'redis' ? 'cluster mode on Redis' : 'single node, in memory';
  const lines = [`Security inventory: ${inventory.namespaces.length} namespace(s), ${handlers} handler(s), ${inventory.denied.length} denied by default; ${state}`];
  for (const ns of inventory.namespaces) lines.push(...formatNamespace(ns));
  lines.push(`any other namespace: ${inventory.undeclaredNamespaces}`);
  return lines.join('\n');
}

/** The access column of one handler. */
export function formatAccess(handler: HandlerInventoryEntry): string {
  if (handler.access === 'public') return 'public (any authenticated principal)';
  if (handler.access === 'denied') return 'DENIED (no @WsAuthorize or @WsPublic)';
  return `${handler.permission ?? ''}${handler.resource !== undefined ? ` on resource ${handler.resource}` : ''}`;
}

function formatNamespace(ns: NamespaceInventoryEntry): string[] {
  const where = `${ns.dynamic ? 'dynamic ' : ''}namespace ${ns.namespace}${ns.port !== 0 ? ` port ${ns.port}` : ''} path ${ns.path}`;
  const origin = ns.origins.allowed.length === 0 ? 'none allowed' : ns.origins.allowed.join(', ');
  const originRule = ns.origins.enforce === 'cookie'
    ? `cookie handshakes only from: ${origin}`
    : ns.origins.enforce === 'browser'
      ? `handshakes carrying an Origin only from: ${origin}`
      : `every handshake only from: ${origin}`;
  const rows: string[][] = [['event', 'handler', 'access'], ...ns.handlers.map((h) => [h.event, `${h.gateway}.${h.method}`, formatAccess(h)])];
  const widths = [0, 1].map((col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return [
    where,
    `  transports: ${ns.transports.join(', ')}${ns.allowUpgrades && ns.transports.length > 1 ? ' (upgrade allowed)' : ''}`,
    `  credentials: ${ns.credentials.join(', ')}; query-string tokens refused`,
    `  origin: ${originRule}`,
    `  tokens: closed at exp + ${ns.tokens.graceSeconds} s with TOKEN_EXPIRED; refresh in band with '${ns.tokens.refreshEvent}'`,
    `  limits: ${ns.limits.maxConnectionsPerUser} connections per user, ${ns.limits.maxConnectionsTotal} per process, ${ns.limits.maxMessageBytes} bytes per message, connect timeout ${ns.limits.connectTimeoutMs} ms`,
    `  rates: ${rate(ns.limits.messagesPerUser, 'messages per user', ns.limits.messageWindowMs)}, ${rate(ns.limits.handshakesPerAddress, 'handshakes per address', ns.limits.handshakeWindowMs)}; ${ns.limits.maxAttachments} attachments per packet, ${ns.limits.maxBufferedBytes} bytes buffered per slow client`,
    ...(ns.handlers.length === 0
      ? ['  handlers: none']
      : rows.map((row) => `  ${(row[0] ?? '').padEnd(widths[0] ?? 0)}  ${(row[1] ?? '').padEnd(widths[1] ?? 0)}  ${row[2] ?? ''}`)),
  ];
}

function rate(limit: number, what: string, windowMs: number): string {
  return limit === 0 ? `${what}: unlimited` : `${limit} ${what} per ${windowMs / 1000} s`;
}
