import type { Server as HttpServer } from 'node:http';
import { Server, type Namespace, type ServerOptions, type Socket } from 'socket.io';

type NamespaceName = string | RegExp | ((name: string, auth: { [key: string]: unknown }, fn: (err: Error | null, success: boolean) => void) => void);

/**
 * A Socket.IO server on which every namespace is secured as it is created: `/` in the
 * constructor, gateway and dynamic (regex/function) namespaces through `of()`; children of a
 * dynamic namespace inherit their parent's middlewares and listeners.
 */
export class SecureServer extends Server {
  private secureNamespace?: (nsp: Namespace) => void;

  constructor(srv: HttpServer | number, opts: Partial<ServerOptions>, secureNamespace: (nsp: Namespace) => void) {
    super(srv, opts);
    this.secureNamespace = secureNamespace;
    secureNamespace(this.sockets);
  }

  override of(name: NamespaceName, fn?: (socket: Socket) => void): Namespace {
    const nsp = super.of(name, fn);
    // `undefined` only while the base constructor creates `/`, which the constructor secures.
    this.secureNamespace?.(nsp);
    return nsp;
  }
}
