import { runInNewContext } from 'node:vm';
import { describe as describeError } from '../../lib/connections/connection-lifecycle.js';
import { errorText } from '../../lib/utils/error-text.js';

describe('errorText (what may be logged of a store or authenticator error)', () => {
  it('keeps the class and message, without URL credentials or a stack', () => {
    const error = new Error('connect failed to redis://app:hunter2-secret@10.0.0.5:6379/0');
    const text = errorText(error);
    expect(text).toBe('Error: connect failed to redis://***@10.0.0.5:6379/0');
    expect(text).not.toContain('hunter2');
  });

  it('describes an error from another realm, and bounds the length', () => {
    const foreign: unknown = runInNewContext('new TypeError("from a vm context")');
    expect(foreign instanceof Error).toBe(false);
    expect(errorText(foreign)).toBe('TypeError: from a vm context');
    expect(errorText(new Error('x'.repeat(5000)))).toHaveLength(300);
    expect(errorText('a thrown string with a secret')).toBe('non-error thrown');
  });

  it('is what the connection lifecycle and presence logs use', () => {
    expect(describeError(new Error('rediss://u:p@host'))).toBe('Error: rediss://***@host');
  });
});
