import { randomUUID } from 'node:crypto';
import { errors, type JSONWebKeySet } from 'jose';
import { JwksKeySet } from '../../lib/auth/jwks-key-set.js';
import { KeySetUnavailableError } from '../../lib/auth/key-set-unavailable.error.js';
import { signingKey, type SigningKey } from '../support/jwks.js';

/** `JwksKeySet` through a loader function: fetch counting, cooldown sharing, failures, closing. */

const TOKEN = { payload: '', signature: '' };

describe('JwksKeySet', () => {
  let keyA: SigningKey;
  let keyB: SigningKey;
  const sets: JwksKeySet[] = [];
  beforeAll(async () => {
    [keyA, keyB] = await Promise.all([signingKey('a', 'ES256'), signingKey('b', 'ES256')]);
  });
  afterEach(() => {
    for (const set of sets.splice(0)) set.close();
  });

  function keySet(loader: () => JSONWebKeySet | Promise<JSONWebKeySet>, cooldownMs = 200, timeoutMs = 1000): JwksKeySet {
    const set = new JwksKeySet({ source: loader, intervalMs: 3_600_000, cooldownMs, timeoutMs });
    sets.push(set);
    return set;
  }

  it('200 concurrent unknown kids share one load; a known kid needs none', async () => {
    let loads = 0;
    const set = keySet(() => { loads += 1; return { keys: [keyA.jwk] }; }, 300);
    await expect(set.getKey({ alg: 'ES256', kid: 'a' }, TOKEN)).resolves.toBeDefined();
    expect(loads).toBe(1);
    const unknown = await Promise.allSettled(Array.from({ length: 200 }, () => set.getKey({ alg: 'ES256', kid: randomUUID() }, TOKEN)));
    expect(unknown.every((r) => r.status === 'rejected' && r.reason instanceof errors.JWKSNoMatchingKey)).toBe(true);
    expect(loads).toBe(2);
    await expect(set.getKey({ alg: 'ES256', kid: 'a' }, TOKEN)).resolves.toBeDefined();
    expect(loads).toBe(2);
  });

  it('a kid published after the last load is found by the next one, even during the cooldown', async () => {
    let keys = [keyA.jwk];
    let loads = 0;
    const set = keySet(() => { loads += 1; return { keys }; }, 300);
    await set.getKey({ alg: 'ES256', kid: 'a' }, TOKEN);
    keys = [keyA.jwk, keyB.jwk];
    // Within the cooldown of the first load: waits for the load at its end.
    await expect(set.getKey({ alg: 'ES256', kid: 'b' }, TOKEN)).resolves.toBeDefined();
    expect(loads).toBe(2);
    expect(set.stats().fetches).toBe(2);
  });

  it('no set: waits for the load under way; refuses at once while cooling down after a failure', async () => {
    let loads = 0;
    let fail = true;
    const set = keySet(() => {
      loads += 1;
      if (fail) throw new Error('down');
      return { keys: [keyA.jwk] };
    }, 60_000);
    await expect(set.getKey({ alg: 'ES256', kid: 'a' }, TOKEN)).rejects.toBeInstanceOf(KeySetUnavailableError);
    expect(loads).toBe(1);
    fail = false;
    const refused = await Promise.allSettled(Array.from({ length: 50 }, () => set.getKey({ alg: 'ES256', kid: 'a' }, TOKEN)));
    expect(refused.every((r) => r.status === 'rejected' && r.reason instanceof KeySetUnavailableError)).toBe(true);
    expect(loads).toBe(1);
    expect(set.stats()).toMatchObject({ fetches: 1, failures: 1, loadedAt: null });
  });

  it('an empty or malformed set, a throw and a timeout keep the last good set', async () => {
    let answer: () => unknown = () => ({ keys: [keyA.jwk] });
    const set = keySet(() => answer() as JSONWebKeySet, 100, 200);
    await set.getKey({ alg: 'ES256', kid: 'a' }, TOKEN);
    for (const bad of [() => ({ keys: [] }), () => ({ nope: true }), () => { throw new Error('x'); }, () => new Promise(() => undefined), () => 'text']) {
      answer = bad;
      const failures = set.stats().failures;
      // An unknown kid triggers a load (after the cooldown): it fails, the set stays.
      await expect(set.getKey({ alg: 'ES256', kid: randomUUID() }, TOKEN)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
      expect(set.stats().failures).toBe(failures + 1);
      await expect(set.getKey({ alg: 'ES256', kid: 'a' }, TOKEN)).resolves.toBeDefined();
    }
  });

  it('close() ends a wait for the next load and stops loading', async () => {
    let loads = 0;
    const set = new JwksKeySet({ source: () => { loads += 1; return { keys: [keyA.jwk] }; }, intervalMs: 1000, cooldownMs: 60_000, timeoutMs: 1000 });
    await set.getKey({ alg: 'ES256', kid: 'a' }, TOKEN);
    const waiting = set.getKey({ alg: 'ES256', kid: 'unknown' }, TOKEN);
    set.close();
    await expect(waiting).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(loads).toBe(1);
    // The cached key still answers; an unknown kid no longer loads anything.
    await expect(set.getKey({ alg: 'ES256', kid: 'a' }, TOKEN)).resolves.toBeDefined();
    await expect(set.getKey({ alg: 'ES256', kid: 'other' }, TOKEN)).rejects.toBeInstanceOf(errors.JWKSNoMatchingKey);
    expect(loads).toBe(1);
  });
});
