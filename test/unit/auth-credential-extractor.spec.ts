import { extractCredential, queryCarriesCredential, readCookie, MAX_CREDENTIAL_LENGTH } from '../../lib/auth/credential.extractor.js';
import { signToken } from '../support/tokens.js';

/** Where a handshake credential may come from, and what is refused. */
describe('auth: credential extraction', () => {
  const all = { authPayload: true, authorizationHeader: true, cookieName: 'rt_session' };
  const jwt = signToken();

  describe('queryCarriesCredential', () => {
    it.each([
      [{ token: 'x' }], [{ access_token: 'x' }], [{ ACCESS_TOKEN: 'x' }], [{ Authorization: 'Bearer x' }], [{ jwt: 'x' }],
      [{ id_token: 'x' }], [{ session: 'x' }], [{ anything: jwt }], [{ list: ['a', jwt] }], [{ api_key: 'x' }],
      [{ refresh_token: 'x' }], [{ h: `Bearer ${jwt}` }], [{ h: `a,${jwt}` }],
    ])('flags %p', (query) => expect(queryCarriesCredential(query)).toBe(true));

    it.each([[{ EIO: '4', transport: 'polling', t: 'PXyz9a1' }], [{ sid: 'abcdefghijklmnopqrst' }], [{}], [undefined], [{ v: '1.2.3' }]])(
      'leaves %p alone', (query) => expect(queryCarriesCredential(query)).toBe(false));
  });

  describe('readCookie', () => {
    it('reads one cookie by exact name', () => {
      expect(readCookie('a=1; rt_session=abc; b=2', 'rt_session')).toBe('abc');
      expect(readCookie('rt_session="quoted"', 'rt_session')).toBe('quoted');
      expect(readCookie('xrt_session=abc; rt_sessionx=def', 'rt_session')).toBeUndefined();
      expect(readCookie(undefined, 'rt_session')).toBeUndefined();
      expect(readCookie('', 'rt_session')).toBeUndefined();
    });
  });

  describe('extractCredential', () => {
    it('prefers auth.token, then Authorization: Bearer, then the cookie', () => {
      const headers = { authorization: 'Bearer header-token', cookie: 'rt_session=cookie-token' };
      expect(extractCredential({ token: 'payload-token' }, headers, all)).toEqual({ credential: 'payload-token', source: 'auth-payload' });
      expect(extractCredential({}, headers, all)).toEqual({ credential: 'header-token', source: 'authorization-header' });
      expect(extractCredential({}, { cookie: 'rt_session=cookie-token' }, all)).toEqual({ credential: 'cookie-token', source: 'cookie' });
      expect(extractCredential({}, {}, all)).toBeNull();
    });

    it('ignores carriers that are turned off', () => {
      const off = { authPayload: false, authorizationHeader: false, cookieName: null };
      expect(extractCredential({ token: 'x' }, { authorization: 'Bearer y', cookie: 'rt_session=z' }, off)).toBeNull();
    });

    it.each([
      ['an empty token', { token: '' }, {}],
      ['a non-string token', { token: 42 }, {}],
      ['an object token', { token: { a: 1 } }, {}],
      ['an oversized token', { token: 'a'.repeat(MAX_CREDENTIAL_LENGTH + 1) }, {}],
      ['a non-Bearer Authorization', {}, { authorization: 'Basic abc' }],
      ['an empty Bearer', {}, { authorization: 'Bearer ' }],
      ['a Bearer with spaces inside', {}, { authorization: 'Bearer a b' }],
      ['an empty cookie', {}, { cookie: 'rt_session=' }],
    ])('calls %s malformed', (_name, auth, headers) => expect(extractCredential(auth, headers, all)).toBe('malformed'));

    it('does not read a token from the prototype chain', () => {
      const auth = Object.create({ token: 'inherited' }) as object;
      expect(extractCredential(auth, {}, all)).toBeNull();
    });
  });
});
