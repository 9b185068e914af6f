// One family of errors with a stable code, so the report can group failures and the CLI prints one line.

export type ErrorCode =
  | 'USAGE'
  | 'BAD_URL'
  | 'HTTP_STATUS'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'TOO_LARGE'
  | 'REDIRECT_LOOP'
  | 'TOO_MANY_REDIRECTS'
  | 'BAD_REDIRECT'
  | 'DECODE'
  | 'ROBOTS_UNAVAILABLE'
  | 'ROBOTS_DISALLOWED'
  | 'WRITE'
  | 'STATE'
  | 'BROWSER'
  | 'LOCKED';

export class SitemirrorError extends Error {
  readonly code: ErrorCode;
  /** Whether trying the same request again may succeed (the error's type is the retry policy). */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SitemirrorError';
    this.code = code;
    this.retryable = options.retryable ?? false;
  }
}

/** An HTTP answer that is not a success; `retryAfterMs` comes from Retry-After on 429/503. */
export class HttpStatusError extends SitemirrorError {
  readonly status: number;
  readonly retryAfterMs: number | undefined;

  constructor(status: number, url: string, retryAfterMs?: number) {
    const retryable = status === 429 || status === 408 || status >= 500;
    super('HTTP_STATUS', `HTTP ${status} for ${url}`, { retryable });
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }
}

export class UsageError extends SitemirrorError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export function errorCodeOf(error: unknown): ErrorCode | 'UNKNOWN' {
  return error instanceof SitemirrorError ? error.code : 'UNKNOWN';
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
