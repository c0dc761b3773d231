import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';

export type Transport = 'polling' | 'websocket';
export const TRANSPORTS: Transport[] = ['polling', 'websocket'];

/** Every client a test opened; `closeAllClients()` in afterEach closes them. */
const open = new Set<Socket>();

export interface ConnectOutcome {
  socket: Socket;
  connected: boolean;
  error?: Error & { data?: { code?: string } };
}

export function client(url: string, nsp: string, options: Partial<ManagerOptions & SocketOptions> = {}): Socket {
  const socket = io(url + nsp, { forceNew: true, reconnection: false, timeout: 5000, ...options });
  open.add(socket);
  return socket;
}

/** Connects and resolves on `connect` or `connect_error` (whichever comes first). */
export function connect(url: string, nsp: string, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<ConnectOutcome> {
  const socket = client(url, nsp, options);
  return new Promise((resolve) => {
    socket.once('connect', () => resolve({ socket, connected: true }));
    socket.once('connect_error', (error) => resolve({ socket, connected: false, error: error as ConnectOutcome['error'] }));
  });
}

/** Connects and fails the test if refused. */
export async function connected(url: string, nsp: string, options: Partial<ManagerOptions & SocketOptions> = {}): Promise<Socket> {
  const outcome = await connect(url, nsp, options);
  if (!outcome.connected) throw new Error(`expected a connection, got connect_error ${JSON.stringify(outcome.error?.data ?? outcome.error?.message)}`);
  return outcome.socket;
}

/** Resolves with the next occurrence of `event` on `socket`. */
export function nextEvent<T = unknown>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve) => socket.once(event, (payload: T) => resolve(payload)));
}

export function closeAllClients(): void {
  for (const socket of open) socket.disconnect();
  open.clear();
}
