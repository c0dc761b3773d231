import type { HandlerInventoryEntry, NamespaceInventoryEntry, SecurityInventory } from './security-inventory.interface.js';

/**
 * The inventory as plain text (what start-up logs): per Socket.IO server, its engine settings
 * once, then each namespace with a table of its handlers.
 */
export function formatInventory(inventory: SecurityInventory): string {
  const handlers = inventory.namespaces.reduce((n, ns) => n + ns.handlers.length, 0);
  const state = inventory.state === 'redis' ? 'cluster mode on Redis' : 'single node, in memory';
  const lines = [`Security inventory: ${inventory.namespaces.length} namespace(s), ${handlers} handler(s), ${inventory.denied.length} denied by default; ${state}`];
  const servers = new Map<string, NamespaceInventoryEntry[]>();
  for (const ns of inventory.namespaces) {
    const key = `${ns.port} ${ns.path}`;
    servers.set(key, [...(servers.get(key) ?? []), ns]);
  }
  for (const namespaces of servers.values()) {
    lines.push(...formatServer(namespaces[0] as NamespaceInventoryEntry));
    for (const ns of namespaces) lines.push(...formatNamespace(ns));
  }
  lines.push(`any other namespace: ${inventory.undeclaredNamespaces}`);
  lines.push(...formatStreams(inventory));
  return lines.join('\n');
}

/** The access column of one handler. */
export function formatAccess(handler: HandlerInventoryEntry): string {
  if (handler.access === 'public') return 'public (any authenticated principal)';
  if (handler.access === 'denied') return 'DENIED (no @WsAuthorize or @WsPublic)';
  return `${handler.permission ?? ''}${handler.resource !== undefined ? ` on resource ${handler.resource}` : ''}`;
}

function formatServer(ns: NamespaceInventoryEntry): string[] {
  const origin = ns.origins.allowed.length === 0 ? 'none allowed' : ns.origins.allowed.join(', ');
  const originRule = ns.origins.enforce === 'cookie'
    ? `cookie handshakes only from: ${origin}`
    : ns.origins.enforce === 'browser'
      ? `handshakes carrying an Origin only from: ${origin}`
      : `every handshake only from: ${origin}`;
  const l = ns.limits;
  return [
    `server ${ns.path}${ns.port !== 0 ? ` on port ${ns.port}` : ''}`,
    `  transports: ${ns.transports.join(', ')}${ns.allowUpgrades && ns.transports.length > 1 ? ' (upgrade allowed)' : ''}`,
    `  credentials: ${ns.credentials.join(', ')}; query-string tokens refused`,
    `  origin: ${originRule}`,
    `  tokens: closed at exp + ${ns.tokens.graceSeconds} s with TOKEN_EXPIRED; refresh in band with '${ns.tokens.refreshEvent}'`,
    `  limits: ${l.maxConnectionsPerUser} connections per user, ${l.maxConnectionsTotal} per process, ${l.maxMessageBytes} bytes per message, connect timeout ${l.connectTimeoutMs} ms`,
    `  rates: ${rate(l.messagesPerUser, 'messages per user', l.messageWindowMs)}, ${rate(l.handshakesPerAddress, 'handshakes per address', l.handshakeWindowMs)}; ${l.maxAttachments} attachments per packet, ${l.maxBufferedBytes} bytes buffered per slow client`,
  ];
}

function formatNamespace(ns: NamespaceInventoryEntry): string[] {
  const title = `  ${ns.dynamic ? 'dynamic namespace' : 'namespace'} ${ns.namespace}`;
  if (ns.handlers.length === 0) return [`${title}: no handlers`];
  const rows: string[][] = [['event', 'handler', 'access'], ...ns.handlers.map((h) => [h.event, `${h.gateway}.${h.method}`, formatAccess(h)])];
  const widths = [0, 1].map((col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return [title, ...rows.map((row) => `    ${(row[0] ?? '').padEnd(widths[0] ?? 0)}  ${(row[1] ?? '').padEnd(widths[1] ?? 0)}  ${row[2] ?? ''}`)];
}

function rate(limit: number, what: string, windowMs: number): string {
  return limit === 0 ? `${what}: unlimited` : `${limit} ${what} per ${windowMs / 1000} s`;
}

/** The streaming endpoint table: every `@Sse()` route, authenticated before its first byte. */
function formatStreams(inventory: SecurityInventory): string[] {
  const streams = inventory.streams ?? [];
  if (streams.length === 0) return ['Server-Sent Events: no @Sse() routes'];
  const first = streams[0] as NonNullable<SecurityInventory['streams']>[number];
  const l = first.limits;
  const origin = first.origins.allowed.length === 0 ? 'none allowed' : first.origins.allowed.join(', ');
  const rows: string[][] = [['route', 'handler', 'access'], ...streams.map((s) => [`GET ${s.path}`, `${s.controller}.${s.method}`, formatAccess({ event: s.path, gateway: s.controller, method: s.method, access: s.access, ...(s.permission !== undefined ? { permission: s.permission } : {}), ...(s.resource !== undefined ? { resource: s.resource } : {}) }).replace('@WsAuthorize or @WsPublic', '@SseAuthorize or @SsePublic')])];
  const widths = [0, 1].map((col) => Math.max(...rows.map((row) => (row[col] ?? '').length)));
  return [
    `Server-Sent Events: ${streams.length} route(s), ${inventory.deniedStreams?.length ?? 0} denied by default`,
    `  credentials: ${first.credentials.join(', ')}; query-string tokens refused (401)`,
    `  origin: cookie streams only from: ${origin}`,
    `  limits: ${l.maxConnectionsPerUser} connections per user shared with sockets, ${l.maxConnectionsTotal} per process, ${rate(l.handshakesPerAddress, 'stream opens per address', l.handshakeWindowMs)}; ${l.maxBufferedBytes} bytes buffered per slow reader; heartbeat every ${l.heartbeatMs} ms${l.maxLifetimeMs > 0 ? `; at most ${l.maxLifetimeMs} ms per stream` : ''}`,
    ...rows.map((row) => `    ${(row[0] ?? '').padEnd(widths[0] ?? 0)}  ${(row[1] ?? '').padEnd(widths[1] ?? 0)}  ${row[2] ?? ''}`),
  ];
}
