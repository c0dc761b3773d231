// The sample's demo page: one ES module, no build step. The Socket.IO client is the one the
// server's own socket.io package serves. Everything shown that came from the network is set with
// textContent, never parsed as HTML.
import { io } from '/socket.io/socket.io.esm.min.js';

const $ = (id) => document.getElementById(id);
const ACK_TIMEOUT_MS = 5000;

/** What a person reads for each error code of SAMPLE_CONTRACT.md (the code is shown beside it). */
const HANDSHAKE_ERRORS = {
  UNAUTHORIZED: 'You are not signed in, or your session is no longer valid. Log in again.',
  TOKEN_EXPIRED: 'Your session has expired. Log in again.',
  ORIGIN_REJECTED: 'The server does not accept connections from this page\'s address (see ALLOWED_ORIGINS).',
  CONNECTION_LIMIT: 'You already have the most connections allowed. Close another tab or device, then reconnect.',
  BANNED: 'You are banned from this chat. A moderator has to lift the ban before you can connect again.',
  SERVICE_UNAVAILABLE: 'The server is busy or one of its services is down. Try again in a moment.',
};

const state = {
  session: null, // { user, expiresAt, apiToken? }
  socket: null,
  channel: null,
  presence: new Map(), // userId -> { status, lastSeen }
  room: null, // { channelId, members: Map<userId, connections> } from presence:room and presence_diff
  roomTimer: null,
  moderation: new Map(), // userId -> { status, connections, lastSeen }
  bannedHere: new Set(), // users banned from this page, so they keep an Unban button
  lastException: null,
  moderationTimer: null,
  moderationPoll: null,
  mentions: null, // the EventSource, in the tab that holds the lock
  mentionsHeld: false, // this tab holds the browser-wide notification lock
  mentionsAbort: null, // cancels a lock request or releases the lock
};

// Mentions: one notification stream per browser and user (a stream takes a connection slot like
// a socket), held by one tab through the Web Locks API and shared with the others.
const mentionsBus = 'BroadcastChannel' in window ? new BroadcastChannel('rt-mentions') : null;
mentionsBus?.addEventListener('message', (e) => {
  if (e.data?.userId === state.session?.user.userId) addMention(e.data.mention);
});

/** The moderation view also polls: presence_update is damped (a quick reconnect announces nothing). */
const MODERATION_POLL_MS = 3000;
/** Room presence is live through presence_diff; device counts are refreshed this often. */
const ROOM_POLL_MS = 3000;

// ---------------------------------------------------------------------------------------------
// Session: the HttpOnly cookie is the credential; the page only learns who it belongs to.

async function boot() {
  $('logout').addEventListener('click', logout);
  $('channel-form').addEventListener('submit', (e) => { e.preventDefault(); joinChannel($('channel').value); });
  $('composer').addEventListener('submit', (e) => { e.preventDefault(); sendMessage(); });
  $('moderation-refresh').addEventListener('click', () => refreshModeration());
  setInterval(() => { renderPresence(); renderModeration(); }, 30_000);
  // Device counts change without a diff (a second device of a member): ask again now and then.
  setInterval(() => { if (state.room) loadRoomPresence(); }, ROOM_POLL_MS);

  const res = await fetch('/demo/session', { headers: { accept: 'application/json' } });
  if (res.ok) start(await res.json());
  else showLogin(res.status === 404);
}

async function showLogin(demoOff) {
  $('app').hidden = true;
  $('whoami').hidden = true;
  $('login').hidden = false;
  const list = $('demo-users');
  list.replaceChildren();
  const res = demoOff ? null : await fetch('/demo/users', { headers: { accept: 'application/json' } });
  if (res === null || !res.ok) {
    $('login-off').hidden = false;
    return;
  }
  const { users } = await res.json();
  for (const user of users) {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.userId = user.userId;
    button.textContent = `Log in as ${user.label}`;
    button.addEventListener('click', () => login(user.userId));
    const perms = document.createElement('small');
    perms.textContent = user.perms.join(', ');
    item.append(button, perms);
    list.append(item);
  }
}

async function login(userId) {
  const res = await fetch('/demo/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ userId }),
  });
  if (!res.ok) {
    showBanner(`Login failed (HTTP ${res.status}).`, 'error');
    return;
  }
  hideBanner();
  start(await res.json());
}

async function logout() {
  clearInterval(state.moderationPoll);
  state.moderationPoll = null;
  stopMentions();
  state.socket?.disconnect();
  state.socket = null;
  await fetch('/demo/logout', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  state.session = null;
  hideBanner();
  showLogin(false);
}

function start(session) {
  state.session = session;
  state.presence.clear();
  state.moderation.clear();
  $('login').hidden = true;
  $('app').hidden = false;
  $('whoami').hidden = false;
  $('me-label').textContent = session.user.label;
  $('tenant-name').textContent = session.user.tenant;
  $('messages').replaceChildren();
  $('notices').replaceChildren();
  $('mentions').replaceChildren();
  $('moderation').hidden = !session.apiToken;
  clearInterval(state.moderationPoll);
  state.moderationPoll = session.apiToken ? setInterval(() => refreshModeration(), MODERATION_POLL_MS) : null;
  connect();
}

// ---------------------------------------------------------------------------------------------
// The socket. The browser sends the rt_session cookie with the handshake by itself.

function connect() {
  state.socket?.disconnect();
  state.lastException = null;
  setConnection('connecting');
  const socket = io('/chat', { reconnectionAttempts: 5 });
  state.socket = socket;

  socket.on('connect', async () => {
    setConnection('connected');
    ensureMentions();
    hideBanner();
    state.lastException = null;
    await Promise.all([loadPresence(), joinChannel(state.channel ?? $('channel').value), refreshModeration()]);
  });

  socket.on('connect_error', (err) => {
    const code = err?.data?.code;
    setConnection('refused');
    if (code) {
      showBanner(`Could not connect: ${HANDSHAKE_ERRORS[code] ?? 'the server refused the connection.'}`, 'error', code);
      if (code === 'UNAUTHORIZED' || code === 'TOKEN_EXPIRED') offerLogin();
      else offerReconnect();
    } else if (socket.active) {
      showBanner('Cannot reach the server. Retrying…', 'warn');
    } else {
      showBanner('Could not connect to the server.', 'error');
      offerReconnect();
    }
  });

  // The server explains a refusal or a forced close with `exception` { error: { code, message } }.
  socket.on('exception', (body) => {
    const code = body?.error?.code;
    state.lastException = code ?? null;
    if (code) addNotice(code, explain(code, 'server', body.error));
  });

  socket.on('disconnect', (reason) => {
    setConnection('disconnected');
    state.channel = null;
    state.room = null;
    renderRoomPresence();
    // Presence is only live while connected: say so rather than show a stale list.
    state.presence.clear();
    renderPresence();
    $('presence-note').hidden = false;
    $('presence-note').textContent = 'Not connected: who is online is shown again once you are back.';
    $('channel-status').textContent = 'Not in a channel';
    if (reason === 'io client disconnect') return;
    if (reason === 'io server disconnect') {
      const code = state.lastException;
      if (code === 'BANNED') showBanner('You were disconnected: a moderator banned you. You cannot reconnect until the ban is lifted.', 'error', 'BANNED');
      else if (code === 'TOKEN_EXPIRED') showBanner('You were disconnected: your session expired. Log in again.', 'error', 'TOKEN_EXPIRED');
      else showBanner('You were disconnected by the server (a moderator closed your connection).', 'error', code ?? undefined);
      if (code === 'TOKEN_EXPIRED') offerLogin();
      else offerReconnect();
      return;
    }
    showBanner('Connection lost. Reconnecting…', 'warn');
  });

  socket.on('message', (message) => {
    if (message?.channelId === state.channel) addMessage(message);
  });

  // Room presence: who is in the channel, from the server's presence_diff (joins/leaves of user
  // ids); device counts come from presence:room, asked again after each diff.
  socket.on('presence_diff', (diff) => {
    const room = state.room;
    if (!room || diff?.channelId !== room.channelId) return;
    for (const userId of Array.isArray(diff.joins) ? diff.joins : []) if (typeof userId === 'string' && !room.members.has(userId)) room.members.set(userId, 1);
    for (const userId of Array.isArray(diff.leaves) ? diff.leaves : []) room.members.delete(userId);
    renderRoomPresence();
    scheduleRoomRefresh();
  });

  socket.on('presence_update', (update) => {
    if (typeof update?.userId !== 'string') return;
    state.presence.set(update.userId, { status: update.status, lastSeen: update.lastSeen ?? null });
    renderPresence();
    scheduleModerationRefresh();
  });
}

/** emitWithAck that never hangs: a timeout becomes an error the page can show. */
async function request(event, payload) {
  try {
    return await state.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, payload);
  } catch {
    return { error: { code: 'TIMEOUT', message: 'No answer from the server' } };
  }
}

async function joinChannel(channelId) {
  if (!state.socket?.connected) return;
  if (state.channel && state.channel !== channelId) await request('channel:leave', { channelId: state.channel });
  // Diffs for the new channel (the server's first snapshot included) apply from here on.
  state.room = { channelId, members: new Map(), note: null };
  const ack = await request('channel:join', { channelId });
  if (ack?.error) {
    state.room = null;
    renderRoomPresence();
    state.channel = null;
    $('channel-status').textContent = 'Not in a channel';
    addNotice(ack.error.code, explain(ack.error.code, 'join', ack.error, channelId));
    return;
  }
  if (state.channel !== channelId) $('messages').replaceChildren();
  state.channel = channelId;
  $('channel').value = channelId;
  $('channel-status').textContent = `In #${channelId}`;
  await loadRoomPresence();
}

/** Every member of the channel with their device count, a page at a time (presence:room). */
async function loadRoomPresence() {
  const room = state.room;
  if (!room || !state.socket?.connected) return;
  const found = new Map();
  let cursor;
  for (let page = 0; page < 20; page += 1) {
    const ack = await request('presence:room', { channelId: room.channelId, limit: 100, ...(cursor ? { cursor } : {}) });
    if (state.room !== room) return;
    if (ack?.error) {
      room.note = ack.error.code === 'FORBIDDEN'
        ? `You cannot see who is in #${room.channelId} (your account lacks presence:read).`
        : explain(ack.error.code, 'presence', ack.error);
      renderRoomPresence();
      return;
    }
    for (const m of ack.members ?? []) found.set(m.userId, m.connections);
    cursor = ack.cursor;
    if (!cursor) break;
  }
  room.note = null;
  room.members = found;
  renderRoomPresence();
}

function scheduleRoomRefresh() {
  if (state.roomTimer) return;
  state.roomTimer = setTimeout(() => { state.roomTimer = null; loadRoomPresence(); }, 300);
}

/** "In #general: alice (2 devices), bob" */
function renderRoomPresence() {
  const line = $('room-presence');
  const room = state.room;
  if (!room) {
    line.hidden = true;
    line.replaceChildren();
    return;
  }
  line.hidden = false;
  if (room.note) {
    line.textContent = room.note;
    return;
  }
  const me = state.session?.user.userId;
  const ids = [...room.members.keys()].sort();
  const parts = [document.createTextNode(`In #${room.channelId}: `)];
  if (ids.length === 0) parts.push(document.createTextNode('nobody yet'));
  ids.forEach((userId, i) => {
    if (i > 0) parts.push(document.createTextNode(', '));
    const name = document.createElement('span');
    name.className = 'member';
    name.dataset.userId = userId;
    const devices = room.members.get(userId);
    name.textContent = `${userId}${userId === me ? ' (you)' : ''}${devices > 1 ? ` (${devices} devices)` : ''}`;
    parts.push(name);
  });
  line.replaceChildren(...parts);
}

async function sendMessage() {
  const input = $('text');
  if (!state.socket?.connected) {
    addNotice('OFFLINE', 'You are not connected.');
    return;
  }
  const channelId = state.channel ?? $('channel').value;
  const text = input.value;
  const ack = await request('message:send', { channelId, text });
  if (ack?.error) {
    addNotice(ack.error.code, explain(ack.error.code, 'send', ack.error, channelId));
    return;
  }
  if (input.value === text) input.value = '';
}

/** A refusal as a person would want to read it. Never shows what was sent. */
function explain(code, action, error = {}, channelId = '') {
  const where = channelId ? ` #${channelId}` : '';
  switch (code) {
    case 'FORBIDDEN':
      if (action === 'join') return `You don't have access to${where}.`;
      if (action === 'send') return `You can't post in${where}: you need write access and to have joined it.`;
      if (action === 'presence') return 'You are not allowed to see who is online.';
      return 'You are not allowed to do that.';
    case 'VALIDATION_FAILED': {
      const fields = Array.isArray(error.fields) ? error.fields.map((f) => f.path).filter(Boolean) : [];
      if (action === 'send' && (fields.length === 0 || fields.includes('text'))) return 'Message not sent: a message has 1 to 2000 characters.';
      return `The server did not accept that request${fields.length ? ` (check: ${fields.join(', ')})` : ''}.`;
    }
    case 'RATE_LIMITED': {
      const seconds = typeof error.retryAfterMs === 'number' ? Math.max(1, Math.ceil(error.retryAfterMs / 1000)) : null;
      return `Slow down: you are sending too fast.${seconds ? ` Try again in ${seconds} s.` : ''} Keep going and you will be disconnected.`;
    }
    case 'TOKEN_EXPIRED': return 'Your session expired. Log in again.';
    case 'UNAUTHORIZED': return 'The server closed or refused this session.';
    case 'BANNED': return 'A moderator banned you.';
    case 'NOT_FOUND': return `Not found${where}.`;
    case 'TIMEOUT': return 'The server did not answer in time.';
    default: return error.message ? `The server refused: ${error.message}.` : 'The server refused the request.';
  }
}

// ---------------------------------------------------------------------------------------------
// Presence: only what the server observed. Nothing on this page can set it.

async function loadPresence() {
  const ack = await request('presence:list', {});
  if (ack?.error) {
    $('presence-note').hidden = false;
    $('presence-note').textContent = ack.error.code === 'FORBIDDEN'
      ? 'You cannot see who is online (your account lacks presence:read).'
      : explain(ack.error.code, 'presence', ack.error);
    return;
  }
  $('presence-note').hidden = true;
  for (const user of ack?.users ?? []) state.presence.set(user.userId, { status: user.status, lastSeen: user.lastSeen ?? null });
  renderPresence();
}

function renderPresence() {
  const list = $('presence');
  const me = state.session?.user.userId;
  const entries = [...state.presence.entries()].sort(([a, x], [b, y]) =>
    (x.status === y.status ? 0 : x.status === 'online' ? -1 : 1) || a.localeCompare(b));
  list.replaceChildren(...entries.map(([userId, p]) => {
    const item = document.createElement('li');
    item.dataset.userId = userId;
    item.dataset.status = p.status;
    const dot = document.createElement('span');
    dot.className = `dot ${p.status}`;
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = userId === me ? `${userId} (you)` : userId;
    const detail = document.createElement('span');
    detail.className = 'muted';
    detail.textContent = p.status === 'online' ? 'online' : `offline${p.lastSeen ? `, last seen ${ago(p.lastSeen)}` : ''}`;
    item.append(dot, name, detail);
    return item;
  }));
}

// ---------------------------------------------------------------------------------------------
// Moderation: HTTP routes with the in-memory bearer token (they never accept the cookie).

function scheduleModerationRefresh() {
  if (!state.session?.apiToken || state.moderationTimer) return;
  state.moderationTimer = setTimeout(() => { state.moderationTimer = null; refreshModeration(); }, 150);
}

async function moderationFetch(method, path) {
  return fetch(path, { method, headers: { authorization: `Bearer ${state.session.apiToken}`, accept: 'application/json' } });
}

async function refreshModeration() {
  if (!state.session?.apiToken) return;
  const res = await moderationFetch('GET', '/moderation/presence').catch(() => null);
  if (res === null) return; // offline: the next poll tries again
  if (!res.ok) {
    addNotice(`HTTP ${res.status}`, 'Could not load the moderation view.');
    return;
  }
  const { users } = await res.json();
  state.moderation = new Map((users ?? []).map((u) => [u.userId, u]));
  renderModeration();
}

async function moderate(action, userId) {
  const path = `/moderation/users/${encodeURIComponent(userId)}/${action === 'unban' ? 'ban' : action}`;
  const res = await moderationFetch(action === 'unban' ? 'DELETE' : 'POST', path);
  if (!res.ok) {
    addNotice(`HTTP ${res.status}`, `Could not ${action} ${userId}.`);
    return;
  }
  if (action === 'ban') state.bannedHere.add(userId);
  if (action === 'unban') state.bannedHere.delete(userId);
  addNotice('OK', `${userId}: ${action === 'ban' ? 'banned and disconnected' : action === 'unban' ? 'ban lifted' : 'disconnected'}.`, 'ok');
  await refreshModeration();
}

function renderModeration() {
  if (!state.session?.apiToken) return;
  const me = state.session.user.userId;
  // The server's list holds the online users; users this page has seen leave are shown offline.
  const ids = new Set([...state.moderation.keys(), ...state.bannedHere, ...state.presence.keys()]);
  const rows = [...ids].sort().map((userId) => {
    const m = state.moderation.get(userId) ?? { status: 'offline', connections: 0, lastSeen: state.presence.get(userId)?.lastSeen ?? null };
    const row = document.createElement('tr');
    row.dataset.userId = userId;
    row.dataset.status = m.status;
    const cells = [
      userId === me ? `${userId} (you)` : userId,
      state.bannedHere.has(userId) ? `${m.status}, banned` : m.status,
      String(m.connections ?? 0),
      m.status === 'online' ? 'now' : m.lastSeen ? ago(m.lastSeen) : '—',
    ].map((text) => {
      const cell = document.createElement('td');
      cell.textContent = text;
      return cell;
    });
    cells[2].className = 'connections';
    const actions = document.createElement('td');
    if (userId !== me) {
      for (const action of state.bannedHere.has(userId) ? ['unban'] : ['disconnect', 'ban']) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = action === 'ban' ? 'danger' : 'secondary';
        button.dataset.action = action;
        button.textContent = action[0].toUpperCase() + action.slice(1);
        button.addEventListener('click', () => moderate(action, userId));
        actions.append(button);
      }
    }
    row.append(...cells, actions);
    return row;
  });
  $('moderation-rows').replaceChildren(...rows);
}

// ---------------------------------------------------------------------------------------------
// Rendering helpers.

function addMessage(message) {
  const list = $('messages');
  const item = document.createElement('li');
  item.className = message.userId === state.session?.user.userId ? 'mine' : '';
  item.dataset.userId = message.userId;
  const who = document.createElement('strong');
  who.textContent = message.userId;
  const time = document.createElement('time');
  time.textContent = new Date(message.sentAt).toLocaleTimeString();
  const text = document.createElement('p');
  text.textContent = message.text;
  item.append(who, time, text);
  list.append(item);
  while (list.children.length > 200) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

// ---------------------------------------------------------------------------------------------
// Mentions over Server-Sent Events. The browser sends the rt_session cookie by itself; the
// server checks the page's origin, counts the stream with the user's sockets, and ends it with an
// `error` event { code } on expiry, ban or disconnect.

function ensureMentions() {
  if (!state.session) return;
  if (state.mentionsHeld) {
    if (!state.mentions) openMentions();
    return;
  }
  if (state.mentionsAbort) return; // waiting for the lock
  const abort = new AbortController();
  state.mentionsAbort = abort;
  const hold = () => new Promise((release) => {
    state.mentionsHeld = true;
    abort.signal.addEventListener('abort', () => release());
    openMentions();
  });
  if (navigator.locks) {
    setMentionsState('in another tab');
    navigator.locks.request(`rt-mentions:${state.session.user.userId}`, { signal: abort.signal }, hold).catch(() => undefined);
  } else hold();
}

function openMentions() {
  setMentionsState('connecting');
  const source = new EventSource('/chat/notifications');
  state.mentions = source;
  source.addEventListener('open', () => setMentionsState('live'));
  source.addEventListener('mention', (e) => {
    const mention = JSON.parse(e.data);
    addMention(mention);
    mentionsBus?.postMessage({ userId: state.session?.user.userId, mention });
  });
  source.addEventListener('error', (e) => {
    if (typeof e.data === 'string') {
      // A coded end: no automatic reconnect; it resumes when this page reconnects.
      let code = 'UNAUTHORIZED';
      try { code = JSON.parse(e.data).code ?? code; } catch { /* keep the default */ }
      source.close();
      state.mentions = null;
      setMentionsState(`ended: ${code}`);
      return;
    }
    if (source.readyState === EventSource.CLOSED) {
      // Refused before the stream began (no notifications:read, banned, too many connections).
      state.mentions = null;
      setMentionsState('unavailable');
    } else setMentionsState('reconnecting');
  });
}

function stopMentions() {
  state.mentions?.close();
  state.mentions = null;
  state.mentionsAbort?.abort();
  state.mentionsAbort = null;
  state.mentionsHeld = false;
  setMentionsState('off');
}

function setMentionsState(text) {
  $('mentions-state').textContent = text;
  document.body.dataset.mentions = text.split(':')[0];
}

function addMention(mention) {
  const list = $('mentions');
  const item = document.createElement('li');
  item.className = 'info';
  item.dataset.from = String(mention.from);
  item.dataset.channelId = String(mention.channelId);
  const label = document.createElement('code');
  label.textContent = `#${mention.channelId}`;
  const body = document.createElement('span');
  body.textContent = `${mention.from}: ${mention.text}`;
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  item.append(label, body, time);
  list.prepend(item);
  while (list.children.length > 20) list.lastElementChild.remove();
}

function addNotice(code, text, kind = 'error') {
  const list = $('notices');
  const item = document.createElement('li');
  item.className = kind;
  item.dataset.code = code;
  const label = document.createElement('code');
  label.textContent = code;
  const body = document.createElement('span');
  body.textContent = text;
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  item.append(label, body, time);
  list.prepend(item);
  while (list.children.length > 20) list.lastElementChild.remove();
}

function showBanner(text, kind, code) {
  const banner = $('banner');
  banner.hidden = false;
  banner.className = `banner ${kind}`;
  banner.dataset.code = code ?? '';
  $('banner-text').textContent = code ? `${text} (${code})` : text;
  $('banner-action').hidden = true;
}

function hideBanner() {
  $('banner').hidden = true;
  $('banner').dataset.code = '';
}

function offerReconnect() {
  const action = $('banner-action');
  action.hidden = false;
  action.textContent = 'Reconnect';
  action.onclick = () => connect();
}

function offerLogin() {
  const action = $('banner-action');
  action.hidden = false;
  action.textContent = 'Log in again';
  action.onclick = () => logout();
}

function setConnection(value) {
  document.body.dataset.connection = value;
  $('connection-state').textContent = value;
  $('connection-state').className = `pill ${value}`;
}

function ago(when) {
  const epochMs = typeof when === 'number' ? when : Date.parse(when);
  if (!Number.isFinite(epochMs)) return 'unknown';
  const seconds = Math.max(0, Math.round((Date.now() - epochMs) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  return new Date(epochMs).toLocaleString();
}

boot().catch(() => showBanner('The page could not start. Is the server running?', 'error'));
