import type { Readable } from 'node:stream';
import { type FamilyInfo, resolveFamily } from '../../core/families.js';
import { noStream, usage } from '../../errors.js';
import type { CallOptions } from '../../io/clients.js';
import type { PartBudgetOptions } from '../../io/multipart.js';

/** Service quotas per job input (reference: quotas): 1 GB, 50 million records, 1000 files. */
export const SHARD_DEFAULTS = {
  maxBytes: 1_000_000_000,
  maxRecords: 50_000_000,
  maxFilesPerShard: 1000,
} as const;

export interface ShardOptions extends CallOptions {
  recipe: string;
  /** Batch-input JSON Lines (gzip detected), or `-` for stdin; the name used in messages when `source` is given. */
  input: string;
  /** The bytes to shard, instead of reading `input` (prepare --shard-out passes its output here). */
  source?: AsyncIterable<Buffer>;
  /**
   * Folder that receives `shard-00000/input.jsonl`, ... and `manifest.json`;
   * shards of several files hold `input-00000.jsonl`, `input-00001.jsonl`, ...
   */
  out: string;
  /** Bytes per shard, all its files together (default 1,000,000,000: the job input quota). */
  maxBytes?: number;
  /** Records per shard, all its files together (default 50 million). */
  maxRecords?: number;
  /**
   * Records per input file (default the family's per-file quota: 50 million;
   * 500 for item-affinity, 10 for item-attribute-affinity; pass 100 for
   * themes). In size mode, when it is below maxRecords, a shard is several
   * files of at most this many records each; in hash mode it caps maxRecords.
   */
  maxRecordsPerFile?: number;
  /** Files per shard in size mode (default 1000: the job quota). */
  maxFilesPerShard?: number;
  /** Partition by a stable hash of the record key into exactly this many shards, instead of filling by size. */
  shards?: number;
  /** Replace what `out` already holds. */
  force?: boolean;
  stdin?: Readable;
  /**
   * S3 output: bytes per part (default 5 MiB, S3's minimum) and parts
   * uploading at once across all shards (default 2). See PartBudget.
   */
  upload?: PartBudgetOptions;
  /** Running counts about every 250 ms, and each shard as it is complete (ShardEvent). */
  onEvent?: (e: ShardEvent) => void;
}

export type ShardEvent =
  /** Records and their bytes sharded so far, counted as the summary counts them. */
  | { type: 'progress'; records: number; bytes: number }
  /**
   * A shard written whole (its files closed, on S3 their uploads completed) and digested: in size
   * mode as the next one starts, in hash mode all at the end. A shard left empty is not told.
   */
  | { type: 'shard'; index: number; folder: string; records: number; bytes: number; files: number };

/** The options checked, with the limits that follow from them. */
export interface ResolvedShardOptions {
  family: FamilyInfo;
  /** Partition by key hash into `shards` shards; else fill shards by size. */
  hashMode: boolean;
  /** Shards in hash mode (1 in size mode: the first one opened). */
  shards: number;
  maxBytes: number;
  /** Records per shard (in hash mode, at most the per-file quota). */
  maxRecords: number;
  /** Records per file: the per-file quota, at most maxRecords. */
  fileRecords: number;
  maxFiles: number;
  /** Shards of several files (`input-00000.jsonl`, ...) instead of one `input.jsonl`. */
  multi: boolean;
}

/** Checks the options and works out the limits, before anything is read or written. */
export function resolveShardOptions(options: ShardOptions): ResolvedShardOptions {
  const family = resolveFamily(options.recipe);
  if (options.input === '-' && !options.source && !options.stdin) throw noStream('shard', 'stdin');
  const hashMode = options.shards !== undefined;
  const maxBytes = options.maxBytes ?? SHARD_DEFAULTS.maxBytes;
  const perFile = options.maxRecordsPerFile ?? family.maxRecordsPerFile;
  const maxFiles = options.maxFilesPerShard ?? SHARD_DEFAULTS.maxFilesPerShard;
  if (!(maxBytes > 0) || !(options.maxRecords === undefined || options.maxRecords > 0) || !(perFile > 0))
    throw usage('--max-bytes, --max-records and --max-records-per-file must be above 0');
  if (!(Number.isInteger(maxFiles) && maxFiles > 0 && maxFiles <= SHARD_DEFAULTS.maxFilesPerShard))
    throw usage(`--max-files-per-shard must be a whole number from 1 to 1000, got ${maxFiles}`);
  // A hash shard is one file, so the per-file quota is its record limit.
  const maxRecords = hashMode
    ? Math.min(options.maxRecords ?? SHARD_DEFAULTS.maxRecords, perFile)
    : (options.maxRecords ?? SHARD_DEFAULTS.maxRecords);
  // Several files per shard only when one file cannot take what one job can:
  // the families with a 50M per-file quota keep their single input.jsonl.
  const multi = !hashMode && perFile < maxRecords && maxFiles > 1;
  const fileRecords = Math.min(perFile, maxRecords);
  // Checked before any file is opened: HashCut's limit, met only after N files were open, came as EMFILE.
  if (
    options.shards !== undefined &&
    !(Number.isInteger(options.shards) && options.shards > 0 && options.shards <= 65535)
  ) {
    throw usage(`--shards must be a whole number from 1 to 65535, got ${options.shards}`);
  }
  return {
    family,
    hashMode,
    shards: options.shards ?? 1,
    maxBytes,
    maxRecords,
    fileRecords,
    maxFiles,
    multi,
  };
}
