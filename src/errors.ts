/**
 * One error class for the whole toolkit, with a closed set of codes so callers
 * (and the CLI's exit-code mapping) can switch on `code` instead of parsing text.
 */
export type PbErrorCode =
  /** A command-line or API option is wrong: exit 2. */
  | 'PB_USAGE'
  /** A record breaks the schema or a service limit: exit 1. */
  | 'PB_INVALID_RECORD'
  /** The input cannot be parsed at all (unclosed quote, line too long): exit 1. */
  | 'PB_PARSE'
  /** A whole file breaks a service quota (records, bytes, queries per file): exit 1. */
  | 'PB_LIMIT'
  /** Reading or writing failed (missing file, disk full): exit 1. */
  | 'PB_IO'
  /** A batch job failed, or the Personalize service refused a request: exit 1. */
  | 'PB_JOB';

export interface PbErrorContext {
  /** Source name as the user gave it (`-` for stdin). */
  file?: string;
  /** 1-based line where the record starts. */
  line?: number;
  /** Field or column the problem is about. */
  field?: string;
}

export class PbError extends Error {
  readonly code: PbErrorCode;
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly field: string | undefined;
  /** The bare reason, without the position prefix that `message` carries. */
  readonly reason: string;

  constructor(
    code: PbErrorCode,
    reason: string,
    context: PbErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(formatPosition(context) + reason, options);
    this.name = 'PbError';
    this.code = code;
    this.reason = reason;
    this.file = context.file;
    this.line = context.line;
    this.field = context.field;
  }
}

/** `file:line: field: ` — the prefix every record-level message uses. */
export function formatPosition(ctx: PbErrorContext): string {
  let s = '';
  if (ctx.file !== undefined) s += ctx.line !== undefined ? `${ctx.file}:${ctx.line}: ` : `${ctx.file}: `;
  if (ctx.field !== undefined) s += `${ctx.field}: `;
  return s;
}

export function isPbError(err: unknown): err is PbError {
  return err instanceof PbError;
}

export function usage(reason: string): PbError {
  return new PbError('PB_USAGE', reason);
}

/**
 * A library call named `-` without the stream it stands for: the process belongs to the CLI,
 * which passes its own; a library caller passes one too, or names a file.
 */
export function noStream(step: string, stream: 'stdin' | 'stdout', what = 'the output'): PbError {
  return usage(
    stream === 'stdin'
      ? `reading - (stdin) needs ${step}'s \`stdin\` option (a Readable): none was given`
      : `writing ${what} to - (stdout) needs ${step}'s \`stdout\` option (a Writable): none was given`,
  );
}

/**
 * What an aborted call rejects with: an Error named `AbortError` with code `ABORT_ERR` and the
 * signal's reason as its cause, as node's own APIs (fs, streams, timers) reject. Not a PbError:
 * the caller asked for the stop, nothing is wrong with the input.
 */
export function abortError(signal?: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal?.reason });
  err.name = 'AbortError';
  return Object.assign(err, { code: 'ABORT_ERR' });
}
