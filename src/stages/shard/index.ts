import { PbError } from '../../errors.js';
import { withCall } from '../../io/clients.js';
import { OffThreadHasher } from '../../io/hasher.js';
import { openLinesReusing, wholeLines } from '../../io/input.js';
import { isS3Uri } from '../../io/s3.js';
import { checkHashShards, hashShard } from './by-hash.js';
import { sizeShard } from './by-size.js';
import { buildManifest } from './manifest.js';
import { resolveShardOptions, type ShardOptions } from './options.js';
import { ShardSet } from './shard-set.js';
import { shardSource } from './source.js';
import { ShardFolder } from './to-folder.js';
import { ShardPrefix } from './to-s3.js';

export type { Manifest, ShardFileInfo, ShardInfo } from './manifest.js';
export { shardName } from './manifest.js';
export { SHARD_DEFAULTS, type ShardEvent, type ShardOptions } from './options.js';

export interface ShardSummary {
  manifest: string;
  shards: number;
  records: number;
  bytes: number;
  blankLines: number;
  seconds: number;
}

/**
 * Splits batch-input JSON Lines into shards that each fit one job, each in
 * its own folder (a job's input path is a prefix: `s3://b/folder` would also
 * match `folder_test/`). Lines are never split and each lands in exactly one
 * shard. Everything is written into a temporary folder beside `out` and
 * renamed into place at the end, so a failed run leaves nothing that looks
 * complete. Memory: two 128 KiB read buffers, the cut's buffer (about one
 * chunk), the hasher's 8 MiB ring and a 64 KiB line buffer per open local
 * shard (one in size mode, N in hash mode); to S3, one part buffer
 * per open shard plus the parts in flight, shared by all shards of the run
 * (PartBudget): (N + 2) x 5 MiB by default, 52 MB for 8 hash shards.
 */
export function shard(options: ShardOptions): Promise<ShardSummary> {
  return withCall(options, () => shardNow(options));
}

async function shardNow(options: ShardOptions): Promise<ShardSummary> {
  const started = process.hrtime.bigint();
  const o = resolveShardOptions(options);
  // What to read, checked by content before anything is written: a folder or prefix stands for its files.
  const source = options.source ?? (await shardSource(options.input, options.stdin, o.family));
  const force = options.force === true;
  const dest = isS3Uri(options.out)
    ? await ShardPrefix.open(options.out, force, options.upload)
    : await ShardFolder.open(options.out, force);
  // SHA-256 of every shard file on a worker thread: 0.7 s of every GB on
  // this thread otherwise, a third of a size-mode run.
  const hasher = new OffThreadHasher();
  const { onEvent } = options;
  const shards = new ShardSet(
    dest,
    hasher,
    o.multi,
    onEvent &&
      ((s) =>
        onEvent({
          type: 'shard',
          index: s.index,
          folder: s.folder,
          records: s.records,
          bytes: s.bytes,
          files: s.files.length,
        })),
  );
  const tick = onEvent && throttled((records, bytes) => onEvent({ type: 'progress', records, bytes }));
  let totals = { records: 0, bytes: 0, blank: 0 };
  try {
    for (let i = 0; i < o.shards; i++) await shards.open(i);
    const tooLongLine = () =>
      new PbError('PB_LIMIT', `a line of more than ${o.maxBytes} bytes is larger than --max-bytes`, {
        file: options.input,
      });
    const lines = source
      ? wholeLines(source, o.maxBytes + 2, tooLongLine)
      : openLinesReusing(options.input, { stdin: options.stdin }, o.maxBytes + 2, tooLongLine);
    const { histogram, ...counts } = o.hashMode
      ? await hashShard(lines, shards.files, o.shards, o.maxBytes, options.input, tick)
      : { ...(await sizeShard(lines, shards, o, options.input, tick)), histogram: undefined };
    totals = counts;
    onEvent?.({ type: 'progress', records: totals.records, bytes: totals.bytes });
    await shards.finishOpenShards();
    await hasher.close();
    if (histogram) checkHashShards(shards.infos, o.shards, o.maxBytes, o.maxRecords, histogram);
    // A shard with no record is never listed: a job over it fails ("no input data") and on AWS
    // cannot be cancelled or deleted. Hash shards keep their numbers, so a gap is a bucket no key hashed to.
    for (const s of shards.infos) if (s.records === 0) await dest.dropShard(s);
    const kept = shards.infos.filter((s) => s.records > 0);
    await dest.commit(buildManifest(o, kept, totals));
  } catch (err) {
    await hasher.destroy();
    await shards.destroy();
    await dest.discard();
    throw err;
  } finally {
    dest.done();
  }
  return {
    manifest: dest.manifest,
    shards: shards.infos.filter((s) => s.records > 0).length,
    records: totals.records,
    bytes: totals.bytes,
    blankLines: totals.blank,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

/** `fn` at most every 250 ms (the last counts are told once the input is read). */
function throttled(fn: (records: number, bytes: number) => void): (records: number, bytes: number) => void {
  let last = Date.now();
  return (records, bytes) => {
    const now = Date.now();
    if (now - last < 250) return;
    last = now;
    fn(records, bytes);
  };
}
