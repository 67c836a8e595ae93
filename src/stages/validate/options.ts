import type { Readable } from 'node:stream';
import { type FamilyInfo, resolveFamily } from '../../core/families.js';
import { DEFAULT_LIMITS, type Limits, type RecordPolicy } from '../../core/validate.js';
import { noStream, usage } from '../../errors.js';
import type { CallOptions } from '../../io/clients.js';

export interface ValidateOptions extends CallOptions {
  recipe: string;
  /** Batch-input files (plain or gzip), or `-` for stdin. */
  files: string[];
  /** How many problems to report through onProblem; all are counted. Default 100. */
  maxReported?: number;
  maxItemList?: number;
  /** Bytes of all the files together that one job may take. Default 1 GB. */
  maxBytesPerJob?: number;
  maxLineLength?: number;
  /** Ids that look like e-mail addresses pass (default: each is a problem). */
  allowEmailIds?: boolean;
  stdin?: Readable;
  /** Receives each reported problem as `file:line: field: reason`. */
  onProblem?: (message: string, problem: ValidationProblem) => void;
  /** Running counts about every 250 ms, and each file once checked (ValidateEvent). */
  onEvent?: (e: ValidateEvent) => void;
}

export type ValidateEvent =
  /** Records and bytes read so far, all files together, and the problems found (all, not only those reported). */
  | { type: 'progress'; records: number; bytesRead: number; problems: number }
  /** A file checked: its records, its bytes, and the problems found in it (its own and its lines'). */
  | { type: 'file'; file: string; records: number; bytes: number; problems: number };

export interface ValidationProblem {
  file: string;
  line?: number;
  field: string;
  reason: string;
}

/** What an option left out means. */
export const VALIDATE_DEFAULTS = {
  maxReported: 100,
  /** A line longer than this is a problem (the service's own line limit is not documented). */
  maxLineLength: 1024 * 1024,
  allowEmailIds: false,
} as const;

/** The options with every default filled in and the recipe resolved to its family, once. */
export interface ResolvedValidateOptions {
  family: FamilyInfo;
  files: readonly string[];
  maxReported: number;
  maxLineLength: number;
  limits: Limits;
  policy: RecordPolicy;
  stdin?: Readable;
  onProblem?: (message: string, problem: ValidationProblem) => void;
  onEvent?: (e: ValidateEvent) => void;
}

export function resolveValidateOptions(input: ValidateOptions): ResolvedValidateOptions {
  const family = resolveFamily(input.recipe);
  if (input.files.length === 0) throw usage('validate needs at least one FILE (or - for stdin)');
  if (input.files.includes('-') && !input.stdin) throw noStream('validate', 'stdin');
  return {
    family,
    files: [...input.files],
    maxReported: input.maxReported ?? VALIDATE_DEFAULTS.maxReported,
    maxLineLength: input.maxLineLength ?? VALIDATE_DEFAULTS.maxLineLength,
    limits: {
      ...DEFAULT_LIMITS,
      maxItemList: input.maxItemList ?? DEFAULT_LIMITS.maxItemList,
      maxBytesPerJob: input.maxBytesPerJob ?? DEFAULT_LIMITS.maxBytesPerJob,
    },
    policy: {
      allowEmailIds: input.allowEmailIds ?? VALIDATE_DEFAULTS.allowEmailIds,
      emailHint:
        'the service takes it, but it usually means the wrong column was used: rebuild the file with prepare --column, or pass --allow-email-ids',
    },
    stdin: input.stdin,
    onProblem: input.onProblem,
    onEvent: input.onEvent,
  };
}
