import type { HashStream, OffThreadHasher } from '../../io/hasher.js';
import type { ShardDestination } from './destination.js';
import { type ShardFileInfo, type ShardInfo, shardFileName } from './manifest.js';
import { ShardFile } from './shard-file.js';

/**
 * The shards of a run as they are written: opens each shard's files in
 * turn and records every finished file and shard for the manifest.
 */
export class ShardSet {
  /** The file being written per shard (all N in hash mode; the last in size mode). */
  readonly files: ShardFile[] = [];
  readonly infos: ShardInfo[] = [];
  /** Every file opened, to destroy the unfinished ones on failure. */
  private readonly opened: ShardFile[] = [];
  private readonly done: ShardFileInfo[][] = [];
  private readonly shardHashes: (HashStream | undefined)[] = [];
  private readonly finishedFiles = new Set<ShardFile>();

  constructor(
    private readonly dest: ShardDestination,
    /** SHA-256 of every shard file, on a worker thread. */
    private readonly hasher: OffThreadHasher,
    /** Shards of several files. */
    private readonly multi: boolean,
    /** Told each shard with records once it is recorded. */
    private readonly onShard?: (info: ShardInfo) => void,
  ) {}

  /** Opens the shard's next file (its first when it is new). */
  async open(i: number): Promise<ShardFile> {
    if (!this.done[i]) {
      this.done[i] = [];
      this.shardHashes[i] = this.multi ? this.hasher.create() : undefined;
      await this.dest.openShard(i);
    }
    const name = shardFileName((this.done[i] as ShardFileInfo[]).length, this.multi);
    const sink = this.dest.openFile(i, name, `${this.dest.folder(i)}${name}`);
    const f = new ShardFile(i, sink, this.hasher, this.shardHashes[i]);
    this.opened.push(f);
    this.files[i] = f;
    return f;
  }

  /** Closes a full file; its shard goes on in the next one. */
  async finishFile(f: ShardFile): Promise<void> {
    const sha256 = await f.close();
    this.finishedFiles.add(f);
    const list = this.done[f.index] as ShardFileInfo[];
    list.push({
      uri: `${this.dest.folder(f.index)}${shardFileName(list.length, this.multi)}`,
      records: f.records,
      bytes: f.bytes,
      sha256,
    });
  }

  /** Closes a shard's last file and records the shard. */
  async finishShard(f: ShardFile): Promise<void> {
    await this.finishFile(f);
    const i = f.index;
    const list = this.done[i] as ShardFileInfo[];
    let records = 0;
    let bytes = 0;
    for (const x of list) {
      records += x.records;
      bytes += x.bytes;
    }
    const first = list[0] as ShardFileInfo;
    this.infos[i] = {
      index: i,
      uri: first.uri,
      folder: this.dest.folder(i),
      records,
      bytes,
      // Digested after its last file's: the hasher takes records in order.
      sha256: (await this.shardHashes[i]?.digest()) ?? first.sha256,
      files: list,
    };
    if (records > 0) this.onShard?.(this.infos[i] as ShardInfo);
  }

  /**
   * The shards still open (all of them in hash mode) first store every
   * part, then complete: a part that fails leaves no shard object at all.
   * Both steps run for all shards at once, so the last parts and the
   * servers' work to assemble each object overlap (8 shards to s3rver:
   * 6.7 s one after the other); every one settles before an error is
   * thrown, so no abort races a completion.
   */
  async finishOpenShards(): Promise<void> {
    const still = this.files.filter((f) => !this.finishedFiles.has(f));
    await settled(still.map((f) => f.end()));
    await settled(still.map((f) => this.finishShard(f)));
  }

  /** A failed run: stops every file not finished (an S3 upload is aborted). */
  async destroy(): Promise<void> {
    for (const f of this.opened) if (!this.finishedFiles.has(f)) await f.destroy();
  }
}

/** Waits for every promise; then throws the first rejection, if any. */
async function settled(all: Promise<unknown>[]): Promise<void> {
  for (const r of await Promise.allSettled(all)) if (r.status === 'rejected') throw r.reason;
}
