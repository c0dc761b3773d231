/** Who is on the other end of a socket, established at handshake and kept current while connected. */
export interface Principal {
  /** The user id (JWT `sub`). */
  readonly userId: string;
  /** The tenant every resource of this principal lives in. */
  readonly tenantId: string;
  /** Granted permissions, `resource:action[:id]` with `*` wildcards. */
  readonly permissions: readonly string[];
  /** When the credential stops being valid, in epoch milliseconds. */
  readonly expiresAt: number;
  /** The token id (JWT `jti`), when the token has one. */
  readonly tokenId?: string;
}
