import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';

/** One hijacking attempt as the attacker's page saw it. */
export interface AttackAttempt {
  readonly name: string;
  readonly connected: boolean;
  readonly error: string | null;
  readonly code: string | null;
  readonly events: string[];
}

/** A second local web site, on another port (so another origin), that tries to hijack the sample's sockets. */
export interface AttackerSite {
  readonly url: string;
  close(): Promise<void>;
}

/** The browser build of socket.io-client (the package does not export the path, so read the file). */
const CLIENT_JS = readFileSync(new URL('../../../node_modules/socket.io-client/dist/socket.io.min.js', import.meta.url), 'utf8');

/**
 * Serves a page that, from its own origin, opens Socket.IO connections to `targetUrl` with
 * `withCredentials: true` (so the browser attaches the visitor's cookie for the target), over
 * websocket and polling, to `/chat` and `/`; on success it would post into #general and ask for
 * presence. It records every outcome in `#result` and sets `body[data-done]` when all settled.
 */
export async function startAttackerSite(targetUrl: string): Promise<AttackerSite> {
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>Totally harmless page</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;background:#fff0f0}pre{white-space:pre-wrap;background:#fff;padding:1rem;border:1px solid #e99}</style>
<script src="/socket.io.min.js"></script></head>
<body><h1>Evil page on another origin</h1>
<p>This page tries to open Socket.IO connections to <code id="target"></code> with the visitor's cookie.</p>
<pre id="result">attacking…</pre>
<script>
const target = ${JSON.stringify(targetUrl)};
document.getElementById('target').textContent = target;
const results = [];
function attempt(name, nsp, transports) {
  return new Promise((resolve) => {
    const r = { name, connected: false, error: null, code: null, events: [] };
    results.push(r);
    const s = io(target + nsp, { forceNew: true, reconnection: false, withCredentials: true, timeout: 8000, transports });
    s.onAny((event) => r.events.push(event));
    s.on('connect', () => {
      r.connected = true;
      s.emit('channel:join', { channelId: 'general' });
      s.emit('message:send', { channelId: 'general', text: 'hijacked by the evil page' });
      s.emit('presence:list', {}, () => r.events.push('presence:list answered'));
      resolve();
    });
    s.on('connect_error', (e) => { r.error = e.message; r.code = (e.data && e.data.code) || null; resolve(); });
  });
}
Promise.all([
  attempt('websocket /chat', '/chat', ['websocket']),
  attempt('polling /chat', '/chat', ['polling']),
  attempt('polling+upgrade /', '/', ['polling', 'websocket']),
]).then(() => {
  document.getElementById('result').textContent = JSON.stringify(results, null, 2);
  document.body.dataset.done = 'true';
});
</script></body></html>`;
  const server: Server = createServer((req, res) => {
    if (req.url === '/socket.io.min.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(CLIENT_JS);
    } else if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
