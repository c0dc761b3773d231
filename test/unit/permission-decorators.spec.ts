import { InvalidRealtimeSecurityOptionsError, WsAuthorize, WsPublic } from '../../lib/index.js';
import { readAccessRule, type PermissionRule } from '../../lib/authorization/access-rule.js';
import { resolveOptions } from '../../lib/module/options.validator.js';
import { TEST_SECRET } from '../support/tokens.js';

const handlerOf = (cls: { prototype: object }, name: string) => (cls.prototype as Record<string, object>)[name] as object;

describe('@WsAuthorize and @WsPublic', () => {
  it('a method decorator beats the class decorator, either way round', () => {
    @WsAuthorize('room:read')
    class A {
      plain() {}
      @WsPublic() open() {}
      @WsAuthorize('room:write', { resource: 'roomId' }) write() {}
    }
    @WsPublic()
    class B {
      plain() {}
      @WsAuthorize('room:admin') admin() {}
    }
    class C {
      plain() {}
    }
    expect(readAccessRule(handlerOf(A, 'plain'), A)).toEqual(expect.objectContaining({ kind: 'permission', permission: 'room:read' }));
    expect(readAccessRule(handlerOf(A, 'open'), A)).toEqual({ kind: 'public' });
    expect(readAccessRule(handlerOf(A, 'write'), A)).toEqual(expect.objectContaining({ permission: 'room:write', resource: 'roomId' }));
    expect(readAccessRule(handlerOf(B, 'plain'), B)).toEqual({ kind: 'public' });
    expect((readAccessRule(handlerOf(B, 'admin'), B) as PermissionRule).permission).toBe('room:admin');
    expect(readAccessRule(handlerOf(C, 'plain'), C)).toEqual({ kind: 'denied' });
  });

  it('a subclass inherits its base class rule and may replace it', () => {
    @WsAuthorize('room:read')
    class Base {
      handle() {}
    }
    class Inherits extends Base {}
    @WsPublic()
    class Replaces extends Base {}
    expect((readAccessRule(handlerOf(Inherits, 'handle'), Inherits) as PermissionRule).permission).toBe('room:read');
    expect(readAccessRule(handlerOf(Replaces, 'handle'), Replaces)).toEqual({ kind: 'public' });
  });

  it.each(['channel', 'channel:*', '*', 'channel:read:*', 'a:b:c:d', 'channel:read ', ''])('refuses %j as a permission, naming the fix', (permission) => {
    expect(() => WsAuthorize(permission)).toThrow(/not a permission\. Write 'resource:action'/);
  });

  it.each<[string, unknown]>([['__proto__', '__proto__'], ['constructor', 'constructor'], ['a dotted path', 'a.b'], ['a number', 42], ['empty', '']])(
    'refuses %s as a resource selector',
    (_label, resource) => expect(() => WsAuthorize('channel:read', { resource: resource as string })).toThrow(/option `resource`/),
  );

  it('refuses a fixed instance combined with a resource from the message', () => {
    expect(() => WsAuthorize('admin:open:console', { resource: 'id' })).toThrow(/fixed instance/);
  });

  it('refuses two access decorators on one method or class', () => {
    expect(() => {
      class Twice {
        @WsPublic() @WsAuthorize('room:read') handle() {}
      }
      return Twice;
    }).toThrow(/already has @WsAuthorize or @WsPublic/);
    expect(() => {
      @WsAuthorize('room:read') @WsAuthorize('room:write')
      class TwiceOnClass {}
      return TwiceOnClass;
    }).toThrow(/class TwiceOnClass/);
  });
});

describe('authorization options', () => {
  const base = { jwt: { secret: TEST_SECRET } };

  it('defaults to the claims resolver, the default id pattern and a logged inventory', () => {
    const resolved = resolveOptions(base);
    expect(resolved.authorization.permissionResolver).toBeNull();
    expect(resolved.authorization.resourceIdPattern.test('general')).toBe(true);
    expect(resolved.logInventory).toBe(true);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a global pattern', { authorization: { resourceIdPattern: /^[a-z]+$/g } }, /authorization\.resourceIdPattern.*without the g or y flag/],
    ['a string pattern', { authorization: { resourceIdPattern: '^[a-z]+$' } }, /authorization\.resourceIdPattern/],
    ['a resolver without isAllowed', { authorization: { permissionResolver: { allowed: () => true } } }, /authorization\.permissionResolver.*isAllowed/],
    ['a non-boolean logInventory', { logInventory: 'yes' }, /logInventory/],
  ])('fails start-up on %s', (_label, options, message) => {
    expect(() => resolveOptions({ ...base, ...options })).toThrow(InvalidRealtimeSecurityOptionsError);
    expect(() => resolveOptions({ ...base, ...options })).toThrow(message);
  });
});
