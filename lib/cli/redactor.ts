const SID_FIELD = /("?sid"?\s*[:=]\s*"?)[A-Za-z0-9_-]{8,}/gi;
const JWT_SHAPE = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g;

/**
 * Cleans any text that reaches the report: removes every secret it was told about (the token,
 * the forged variants, their segments), anything shaped like a JWT, engine/socket ids, control
 * characters, and caps the length. Server-provided text is untrusted: it might echo a credential.
 */
export class Redactor {
  private readonly secrets: string[] = [];

  /** Registers a secret (and its JWT segments of 8+ characters). */
  add(secret: string | undefined): void {
    if (secret === undefined || secret.length === 0) return;
    this.secrets.push(secret, ...secret.split('.').filter((segment) => segment.length >= 8));
    this.secrets.sort((a, b) => b.length - a.length);
  }

  clean(text: string, maxLength = 120): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('<redacted>');
    out = out.replace(JWT_SHAPE, '<redacted>').replace(SID_FIELD, '$1<redacted>');
    out = out.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
    return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
  }
}
