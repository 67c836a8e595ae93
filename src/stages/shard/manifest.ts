import type { ResolvedShardOptions } from './options.js';

/** One input file of a shard. */
export interface ShardFileInfo {
  uri: string;
  records: number;
  bytes: number;
  sha256: string;
}

export interface ShardInfo {
  index: number;
  /** The shard's first input file (its only one, unless `files` lists several). */
  uri: string;
  /** The job's input path. */
  folder: string;
  records: number;
  bytes: number;
  /** SHA-256 of the shard's bytes: its files' bytes one after the other, in `files` order. */
  sha256: string;
  /** Every input file of the shard, in order (one element for a single-file shard). */
  files: ShardFileInfo[];
}

export interface Manifest {
  version: 1;
  family: string;
  createdAt: string;
  mode: 'size' | 'hash';
  limits: { maxBytes: number; maxRecords: number; maxRecordsPerFile: number; maxFilesPerShard: number };
  records: number;
  bytes: number;
  shards: ShardInfo[];
}

export function shardName(i: number): string {
  return `shard-${String(i).padStart(5, '0')}`;
}

/** The name of a shard's k-th file. */
export function shardFileName(k: number, multi: boolean): string {
  return multi ? `input-${String(k).padStart(5, '0')}.jsonl` : 'input.jsonl';
}

/** The manifest of a finished run: `shards` are the ones kept (none empty). */
export function buildManifest(
  o: ResolvedShardOptions,
  shards: ShardInfo[],
  totals: { records: number; bytes: number },
): Manifest {
  return {
    version: 1,
    family: o.family.family,
    createdAt: new Date().toISOString(),
    mode: o.hashMode ? 'hash' : 'size',
    limits: {
      maxBytes: o.maxBytes,
      maxRecords: o.maxRecords,
      maxRecordsPerFile: o.fileRecords,
      maxFilesPerShard: o.multi ? o.maxFiles : 1,
    },
    records: totals.records,
    bytes: totals.bytes,
    shards,
  };
}

/** manifest.json's text. */
export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}
