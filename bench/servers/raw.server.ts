import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { connectionCounter, ECHO_EVENT, NAMESPACE } from '../support/protocol.js';

/** `raw`: a plain Socket.IO server that acks the echo payload (the floor). */
export async function startRawServer(): Promise<{ port: number; close(): Promise<void> }> {
  const http = createServer();
  const io = new Server(http, { serveClient: false });
  io.of(NAMESPACE).on('connection', (socket) => {
    connectionCounter.open++;
    socket.on('disconnect', () => { connectionCounter.open--; });
    socket.on(ECHO_EVENT, (payload: unknown, ack?: (reply: unknown) => void) => {
      if (typeof ack === 'function') ack(payload);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as { port: number }).port;
  return { port, close: () => new Promise<void>((resolve) => { void io.close(() => resolve()); }) };
}
