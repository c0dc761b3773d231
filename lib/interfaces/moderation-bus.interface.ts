/** Fields every moderation command carries. */
interface ModerationCommandBase {
  /** The publishing `ModerationService` instance: a node ignores its own commands (it applied them already). */
  readonly origin: string;
  readonly tenantId: string;
  readonly userId: string;
}

/**
 * A moderation decision every node must enforce on its own sockets. Plain JSON (no Date, no
 * class), so a bus can serialise it as is.
 */
export type ModerationCommand =
  | (ModerationCommandBase & { readonly kind: 'disconnect' })
  | (ModerationCommandBase & { readonly kind: 'ban'; readonly until: number | null })
  | (ModerationCommandBase & { readonly kind: 'unban' })
  | (ModerationCommandBase & { readonly kind: 'permissions'; readonly permissions: readonly string[] | null });

/**
 * Carries moderation commands to every node. The in-process default delivers within this
 * process; cluster mode swaps in a Redis one. Contract: `publish` resolves once the command is
 * handed to the transport (it may reach the publisher too; listeners are idempotent and skip
 * their own `origin`); delivery to every live node is at least once; a listener that throws
 * never stops delivery to the others.
 */
export interface ModerationBus {
  publish(command: ModerationCommand): Promise<void>;
  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: (command: ModerationCommand) => void): () => void;
}

/** Injection token of the active {@link ModerationBus}. */
export const ModerationBus = Symbol('ModerationBus');
