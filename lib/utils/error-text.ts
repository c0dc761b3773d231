/**
 * What may be logged of an error: its class and message, with any `user:password@` of a URL
 * removed, cut to 300 characters. Never a stack. Internal: not exported from the package.
 */
export function errorText(error: unknown): string {
  const text = isErrorLike(error) ? `${error.name}: ${error.message}` : 'non-error thrown';
  return text.replace(/\/\/[^/@\s]*@/g, '//***@').slice(0, 300);
}

/** `instanceof Error` fails for errors made in another realm (a VM context): check the shape instead. */
export function isErrorLike(value: unknown): value is { name: string; message: string } {
  return typeof value === 'object' && value !== null
    && typeof (value as { message?: unknown }).message === 'string' && typeof (value as { name?: unknown }).name === 'string';
}
