import type { Server as HttpServer } from 'node:http';
import { Server, type Namespace, type ServerOptions, type Socket } from 'socket.io';
import { holdMissedPackets, type AdapterConstructor } from './session-recovery.js';

type NamespaceName = string | RegExp | ((name: string, auth: { [key: string]: unknown }, fn: (err: Error | null, success: boolean) => void) => void);

/**
 * A Socket.IO server on which every namespace is secured as it is created: `/` in the
 * constructor, gateway and dynamic (regex/function) namespaces through `of()`; children of a
 * dynamic namespace inherit their parent's middlewares and listeners. Every adapter it uses,
 * the default one or one set later with `adapter()`, holds a recovered session's missed
 * packets until the handshake has authenticated its user (see `holdMissedPackets`).
 */
export class SecureServer extends Server {
  private secureNamespace?: (nsp: Namespace) => void;

  constructor(srv: HttpServer | number, opts: Partial<ServerOptions>, secureNamespace: (nsp: Namespace) => void) {
    super(srv, opts);
    this.secureNamespace = secureNamespace;
    secureNamespace(this.sockets);
  }

  override adapter(): AdapterConstructor | undefined;
  override adapter(v: AdapterConstructor): this;
  override adapter(v?: AdapterConstructor): AdapterConstructor | undefined | this {
    // Socket.IO tells a read from a write by the argument count.
    return v === undefined ? super.adapter() : super.adapter(holdMissedPackets(v));
  }

  override of(name: NamespaceName, fn?: (socket: Socket) => void): Namespace {
    const nsp = super.of(name, fn);
    // `undefined` only while the base constructor creates `/`, which the constructor secures.
    this.secureNamespace?.(nsp);
    return nsp;
  }
}
