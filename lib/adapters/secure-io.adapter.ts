import type { Server as HttpServer } from 'node:http';
import { Logger, type INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';
import { NamespaceSecurity } from './namespace-security.js';
import { SecureServer } from './secure-server.js';
import { duplicateSocketIo, duplicateSocketIoMessage } from './socket-io-copies.js';

/**
 * The Socket.IO adapter that authenticates every connection before it exists. Install it once:
 *
 * ```ts
 * app.useWebSocketAdapter(new SecureIoAdapter(app));
 * ```
 */
export class SecureIoAdapter extends IoAdapter {
  private security?: NamespaceSecurity;

  constructor(private readonly app: INestApplicationContext) {
    super(app);
    const copies = duplicateSocketIo();
    if (copies !== undefined) new Logger('RealtimeSecurity').warn(duplicateSocketIoMessage(copies));
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    const security = this.resolveSecurity();
    const opts = security.serverOptions(options);
    const httpServer = this.httpServer as HttpServer | undefined;
    const target = httpServer !== undefined && httpServer !== null && port === 0 ? httpServer : port;
    return new SecureServer(target, opts, (nsp) => security.secure(nsp));
  }

  private resolveSecurity(): NamespaceSecurity {
    if (this.security !== undefined) return this.security;
    try {
      this.security = this.app.get(NamespaceSecurity, { strict: false });
    } catch {
      throw new Error(
        'SecureIoAdapter: RealtimeSecurityModule is not loaded. Import RealtimeSecurityModule.forRoot(...) (or forRootAsync) in your root module before installing the adapter.',
      );
    }
    return this.security;
  }
}
