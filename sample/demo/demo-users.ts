/** Demo users of the sample: two tenants, a moderator, a reader with a scoped grant. Demo only. */
export interface DemoUser {
  readonly userId: string;
  readonly tenant: string;
  readonly perms: readonly string[];
  readonly label: string;
}

export const DEMO_USERS: readonly DemoUser[] = [
  { userId: 'alice', tenant: 'acme', label: 'Alice (acme, chat)', perms: ['channel:read', 'channel:write', 'presence:read', 'notifications:read'] },
  { userId: 'bob', tenant: 'acme', label: 'Bob (acme, chat)', perms: ['channel:read', 'channel:write', 'presence:read', 'notifications:read'] },
  { userId: 'carol', tenant: 'acme', label: 'Carol (acme, general only, read-only)', perms: ['channel:read:general'] },
  { userId: 'mod', tenant: 'acme', label: 'Mod (acme, moderator)', perms: ['channel:*', 'presence:read', 'moderation:*', 'notifications:read'] },
  { userId: 'dave', tenant: 'globex', label: 'Dave (globex, chat)', perms: ['channel:read', 'channel:write', 'presence:read', 'notifications:read'] },
];
