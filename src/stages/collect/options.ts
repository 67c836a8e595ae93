import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { noStream, usage } from '../../errors.js';
import type { CallOptions } from '../../io/clients.js';
import { isS3Uri } from '../../io/s3.js';
import type { CollectEvent } from './events.js';

/** Options of `collect`. */
export interface CollectOptions extends CallOptions {
  /** Output sources: .out files, folders, s3:// prefixes, or `-`. Give these or `state`. */
  sources?: string[];
  /** The job state file (local or s3://): its shards' `output` prefixes are the sources, their `input`s the input. */
  state?: string;
  /** Batch input to reconcile against: manifest.json files (their shards' `uri`s) or batch-input JSON Lines. */
  inputs?: string[];
  /** Merged output lines (JSON Lines): a path (atomic; .gz), s3://bucket/key or `-`. Default `-`. */
  output?: string;
  /** Input records with no output line, byte for byte. Default: missing.jsonl beside the output. */
  missing?: string;
  /** Error lines of keys that have no successful line. Default: errors.jsonl beside the output. */
  errors?: string;
  /** `fail` (default) or `skip` (to `rejects`) for malformed output lines. */
  onInvalid?: 'fail' | 'skip';
  rejects?: string;
  /** Longest line in bytes. Default 128 MiB. */
  maxLineLength?: number;
  /** Memory for one partition's keys at a time. Default 64 MiB. */
  memoryBudget?: number;
  /** Folder for partitions and for spooling stdin. Default the OS temp folder. */
  tmpDir?: string;
  /** What `-` reads (a source, an input or the state file); without it, `-` is a usage error. */
  stdin?: Readable;
  /** Where an output of `-` goes; without it, `-` is a usage error. */
  stdout?: Writable;
  /** Bytes per piece of lines. Default 1 MiB. */
  pieceSize?: number;
  /**
   * Bytes of local sources and inputs from which a second thread keys half
   * of the files and reconciles half of the partitions. Default 64 MiB;
   * Infinity keeps collect on one thread (the tests set 0 to use it on small inputs).
   */
  twoThreadsFrom?: number;
  /** Each step as it starts, each file as a step reads it, running counts about every 250 ms (CollectEvent). */
  onEvent?: (e: CollectEvent) => void;
}

export const COLLECT_DEFAULTS = {
  memoryBudget: 64 * 1024 * 1024,
  maxLineLength: 128 * 1024 * 1024,
  pieceSize: 1024 * 1024,
  twoThreadsFrom: 64 * 1024 * 1024,
} as const;

/** Where missing.jsonl and errors.jsonl go by default: beside the output. */
export function besideOutput(output: string, name: string): string {
  if (output === '-') return name;
  if (isS3Uri(output)) return output.replace(/[^/]*$/, name);
  return join(dirname(output), name);
}

/** The options checked, with their defaults. */
export interface ResolvedCollectOptions {
  sources: string[];
  state: string | undefined;
  inputs: string[];
  output: string;
  missing: string | undefined;
  errors: string | undefined;
  onInvalid: 'fail' | 'skip';
  rejects: string | undefined;
  maxLineLength: number;
  memoryBudget: number;
  tmpDir: string;
  stdin: Readable | undefined;
  stdout: Writable | undefined;
  pieceSize: number;
  twoThreadsFrom: number;
}

export function resolveCollectOptions(o: CollectOptions): ResolvedCollectOptions {
  if ((o.state === undefined) === (o.sources === undefined || o.sources.length === 0)) {
    throw usage('collect needs --state URI or output SOURCEs (one or the other)');
  }
  const onInvalid = o.onInvalid ?? 'fail';
  if (onInvalid !== 'fail' && onInvalid !== 'skip')
    throw usage(`--on-invalid must be fail or skip, got "${onInvalid}"`);
  if (onInvalid === 'skip' && !o.rejects) throw usage('--on-invalid skip needs --rejects FILE');
  const memoryBudget = o.memoryBudget ?? COLLECT_DEFAULTS.memoryBudget;
  const maxLineLength = o.maxLineLength ?? COLLECT_DEFAULTS.maxLineLength;
  const pieceSize = o.pieceSize ?? COLLECT_DEFAULTS.pieceSize;
  if (!(memoryBudget > 0) || !(maxLineLength > 0) || !(pieceSize > 0)) throw usage('sizes must be above 0');
  const twoThreadsFrom = o.twoThreadsFrom ?? COLLECT_DEFAULTS.twoThreadsFrom;
  if (!(twoThreadsFrom >= 0)) throw usage('twoThreadsFrom must be 0 or more bytes');
  const output = o.output ?? '-';
  // writeOutput refuses it too, but only once both readings are done, and with the side files
  // already open: a SideFile aborted before its write began fails with an unhandled 'error'.
  if (output === '-' && !o.stdout) throw noStream('collect', 'stdout');
  return {
    sources: o.sources ? [...o.sources] : [],
    state: o.state,
    inputs: o.inputs ? [...o.inputs] : [],
    output,
    missing: o.missing,
    errors: o.errors,
    onInvalid,
    rejects: o.rejects,
    maxLineLength,
    memoryBudget,
    tmpDir: o.tmpDir ?? tmpdir(),
    stdin: o.stdin,
    stdout: o.stdout,
    pieceSize,
    twoThreadsFrom,
  };
}
