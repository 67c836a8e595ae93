import type { Manifest, ShardInfo } from './manifest.js';

/**
 * Where one shard file's bytes go: a local file or an S3 multipart upload.
 * write() returns a promise when the run's part budget is full (S3); the
 * caller may reuse the chunk once it settles.
 */
export interface FileSink {
  write(chunk: Buffer): Promise<unknown> | undefined;
  /** Writes out what is buffered; for S3, uploads every part but does not complete the object yet. */
  end(): Promise<void>;
  close(): Promise<void>;
  /** Stops writing; an S3 upload is aborted, so no partial object appears. */
  abort(): Promise<void>;
}

/** Where a run's shards and manifest go: a local folder (ShardFolder) or an S3 prefix (ShardPrefix). */
export interface ShardDestination {
  /** The manifest's final name. */
  readonly manifest: string;
  /** Shard i's final folder, ending in `/`: the job's input path. */
  folder(i: number): string;
  /** Makes room for shard i, before its first file is opened. */
  openShard(i: number): Promise<void>;
  /** Opens shard i's file `name`; `shownAs` is its name in messages. */
  openFile(i: number, name: string, shownAs: string): FileSink;
  /** Removes a shard that got no record. */
  dropShard(s: ShardInfo): Promise<void>;
  /** Writes the manifest, which makes the run complete. */
  commit(manifest: Manifest): Promise<void>;
  /** A failed run: removes what was written. */
  discard(): Promise<void>;
  /** The run is over, committed or discarded. */
  done(): void;
}
