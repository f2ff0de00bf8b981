/**
 * Typed errors with codes. Every error a part raises on purpose is a `BulwarkError` whose `code`
 * names the rule that failed, so callers (and metrics) can branch on the code, never on the message.
 */
export class BulwarkError<C extends string = string> extends Error {
  readonly code: C;
  readonly details: Record<string, unknown>;

  constructor(code: C, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BulwarkError';
    this.code = code;
    this.details = details;
  }
}

export function isBulwarkError<C extends string>(err: unknown, code?: C): err is BulwarkError<C> {
  return err instanceof BulwarkError && (code === undefined || err.code === code);
}
