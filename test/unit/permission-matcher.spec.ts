import {
  ClaimsPermissionResolver,
  hasPermission,
  parseRequiredPermission,
  type Principal,
} from '../../lib/index.js';
import { checkResourceId, DEFAULT_RESOURCE_ID_PATTERN } from '../../lib/authorization/resource-id.validator.js';
import { grantCovers, type PermissionRequirement } from '../../lib/authorization/permission.matcher.js';

const need = (permission: string, id?: string): PermissionRequirement => {
  const parsed = parseRequiredPermission(permission);
  if (parsed === null) throw new Error(`bad test requirement ${permission}`);
  return id === undefined ? parsed : { ...parsed, id };
};

describe('permission matching', () => {
  // [grant, required permission, resource id or undefined, expected]
  const table: Array<[string, string, string | undefined, boolean]> = [
    // exact, unscoped
    ['channel:read', 'channel:read', undefined, true],
    ['channel:read', 'channel:read', 'general', true],
    ['channel:read', 'channel:write', 'general', false],
    ['channel:read', 'message:read', 'general', false],
    // scoped grants cover exactly their instance
    ['channel:read:general', 'channel:read', 'general', true],
    ['channel:read:general', 'channel:read', 'random', false],
    ['channel:read:general', 'channel:read', undefined, false],
    ['channel:read:general', 'channel:write', 'general', false],
    // prefix tricks: no partial matches in any segment
    ['channel:read:gen', 'channel:read', 'general', false],
    ['channel:read:general', 'channel:read', 'gen', false],
    ['channel:read:general', 'channel:read', 'general2', false],
    ['chan:read', 'channel:read', 'general', false],
    ['channel:re', 'channel:read', 'general', false],
    ['channel:read', 'channel:readwrite', 'general', false],
    ['channel:rea*', 'channel:read', 'general', false],
    ['channel:read:gen*', 'channel:read', 'general', false],
    // case is significant
    ['Channel:read', 'channel:read', 'general', false],
    ['channel:read:General', 'channel:read', 'general', false],
    // wildcards match one whole segment
    ['channel:*', 'channel:read', 'general', true],
    ['channel:*', 'channel:write', undefined, true],
    ['channel:*', 'message:read', 'general', false],
    ['*:read', 'channel:read', 'general', true],
    ['*:read', 'channel:write', 'general', false],
    ['channel:read:*', 'channel:read', 'general', true],
    ['channel:read:*', 'channel:read', undefined, false],
    ['channel:*:general', 'channel:write', 'general', true],
    ['channel:*:general', 'channel:write', 'random', false],
    ['*:*', 'anything:goes', 'x', true],
    ['*:*:*', 'anything:goes', 'x', true],
    ['*:*:*', 'anything:goes', undefined, false],
    // `*` alone grants everything
    ['*', 'channel:read', 'general', true],
    ['*', 'moderation:write', undefined, true],
    // segment-count mismatches and malformed grants grant nothing
    ['channel', 'channel:read', 'general', false],
    ['channel:read:general:extra', 'channel:read', 'general', false],
    ['channel:read:general:extra', 'channel:read', undefined, false],
    ['channel::general', 'channel:read', 'general', false],
    [':read', 'channel:read', undefined, false],
    ['channel:', 'channel:read', undefined, false],
    ['', 'channel:read', undefined, false],
    ['**', 'channel:read', undefined, false],
    ['channel:read ', 'channel:read', undefined, false],
    // a fixed-instance requirement
    ['admin:open', 'admin:open:console', undefined, true],
    ['admin:open:console', 'admin:open:console', undefined, true],
    ['admin:open:other', 'admin:open:console', undefined, false],
  ];

  it.each(table)('grant %j for %j on %j → %j', (grant, permission, id, expected) => {
    const required = permission.split(':').length === 3 ? need(permission) : need(permission, id);
    expect(grantCovers(grant, required)).toBe(expected);
    expect(hasPermission([grant], required)).toBe(expected);
  });

  it('needs only one covering grant, and none from an empty or non-array list', () => {
    expect(hasPermission(['message:read', 'channel:read:general'], need('channel:read', 'general'))).toBe(true);
    expect(hasPermission(['message:read', 'channel:read:random'], need('channel:read', 'general'))).toBe(false);
    expect(hasPermission([], need('channel:read'))).toBe(false);
    expect(hasPermission('*' as unknown as string[], need('channel:read'))).toBe(false);
    expect(hasPermission([42 as unknown as string, null as unknown as string], need('channel:read'))).toBe(false);
  });

  it.each(['channel', 'channel:*', '*', 'channel:read:*', 'a:b:c:d', 'channel:read:', 'channel read', '', 'channel:réad'])(
    'refuses %j as a required permission',
    (permission) => expect(parseRequiredPermission(permission)).toBeNull(),
  );

  it('parses required permissions with and without a fixed instance', () => {
    expect(parseRequiredPermission('channel:read')).toEqual({ resource: 'channel', action: 'read' });
    expect(parseRequiredPermission('admin:open:console')).toEqual({ resource: 'admin', action: 'open', id: 'console' });
  });
});

describe('resource ids', () => {
  it.each([
    ['general'], ['a'], ['room-1'], ['v1.2_x'], ['0'], ['x'.repeat(128)],
  ])('accepts %j', (id) => expect(checkResourceId(id)).toBe(id));

  it.each<[string, unknown]>([
    ['empty', ''],
    ['__proto__', '__proto__'],
    ['constructor', 'constructor'],
    ['prototype', 'prototype'],
    ['10 KB', 'a'.repeat(10 * 1024)],
    ['129 characters', 'a'.repeat(129)],
    ['NUL', 'gen\u0000eral'],
    ['newline', 'general\n'],
    ['DEL', 'gen\u007f'],
    ['C1 control', 'gen\u0085'],
    ['zero-width space', 'gen\u200beral'],
    ['right-to-left override', '\u202egeneral'],
    ['BOM', '\ufeffgeneral'],
    ['Cyrillic look-alike', 'gеneral'],
    ['fullwidth look-alike', 'ｇeneral'],
    ['lone surrogate', 'gen\ud800'],
    ['permission separator', 'general:write'],
    ['wildcard', '*'],
    ['path', '../general'],
    ['leading dot', '.general'],
    ['space', 'gen eral'],
    ['number', 42],
    ['object', { toString: () => 'general' }],
    ['array', ['general']],
    ['null', null],
    ['undefined', undefined],
  ])('refuses %s', (_label, id) => expect(checkResourceId(id)).toBeNull());

  it('applies the fixed rules whatever the configured pattern', () => {
    const anything = /^[\s\S]*$/u;
    expect(checkResourceId('général', anything)).toBe('général');
    expect(checkResourceId('__proto__', anything)).toBeNull();
    expect(checkResourceId('a:b', anything)).toBeNull();
    expect(checkResourceId('a\u200bb', anything)).toBeNull();
    expect(checkResourceId('x'.repeat(257), anything)).toBeNull();
    expect(DEFAULT_RESOURCE_ID_PATTERN.test('general')).toBe(true);
  });
});

describe('ClaimsPermissionResolver', () => {
  const principal = (permissions: string[]): Principal => ({ userId: 'u', tenantId: 't', permissions, expiresAt: Date.now() + 60_000 });
  const resolver = new ClaimsPermissionResolver();
  const query = (permissions: string[], permission: string, resourceId?: string) =>
    resolver.isAllowed({ principal: principal(permissions), permission, namespace: '/chat', event: 'e', ...(resourceId !== undefined ? { resourceId } : {}) });

  it('decides from the principal\'s permissions, per instance', () => {
    expect(query(['channel:read:general'], 'channel:read', 'general')).toBe(true);
    expect(query(['channel:read:general'], 'channel:read', 'random')).toBe(false);
    expect(query(['channel:read'], 'channel:read')).toBe(true);
    expect(query([], 'channel:read')).toBe(false);
  });

  it('refuses a requirement outside the grammar', () => {
    expect(query(['*'], 'channel')).toBe(false);
  });
});
