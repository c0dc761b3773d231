import type { IncomingHttpHeaders } from 'node:http';
import type { Principal } from './principal.interface.js';

/** Where a handshake's credential came from. */
export type CredentialSource = 'auth-payload' | 'authorization-header' | 'cookie';

/** What an authenticator is given: the credential and the handshake facts around it. */
export interface AuthenticationRequest {
  /** The raw credential (never log it). */
  readonly credential: string;
  readonly source: CredentialSource;
  /** The Socket.IO namespace the client is connecting to. */
  readonly namespace: string;
  /** The remote address of the handshake. */
  readonly address: string;
  /** The handshake's `Origin` header, when a browser sent one. */
  readonly origin?: string;
  readonly headers: Readonly<IncomingHttpHeaders>;
}

/**
 * Turns a credential into a principal. Return `null` (or throw a `WsSecurityException`
 * with `UNAUTHORIZED`/`TOKEN_EXPIRED`) to refuse; any other error refuses the connection
 * with `SERVICE_UNAVAILABLE` and is logged without the credential.
 */
export interface RealtimeAuthenticator {
  authenticate(request: AuthenticationRequest): Promise<Principal | null>;
}

/** Injection token of the active {@link RealtimeAuthenticator}. */
export const RealtimeAuthenticator = Symbol('RealtimeAuthenticator');
