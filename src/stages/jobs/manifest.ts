/** The shard manifest submit starts from, checked for what jobs need: records, and shards on S3. */
import { PbError } from '../../errors.js';
import { readJsonDoc } from '../../io/doc.js';
import { isS3Uri } from '../../io/s3.js';
import { type ManifestLike, shardUris } from './model.js';

export async function loadManifest(uri: string): Promise<ManifestLike> {
  const m = (await readJsonDoc(uri)) as Partial<ManifestLike> | null;
  if (!m || typeof m !== 'object' || typeof m.family !== 'string' || !Array.isArray(m.shards))
    throw new PbError('PB_USAGE', 'not a shard manifest (made by `shard` or `prepare --shard-out`)', {
      file: uri,
    });
  // A job over no records fails ("no input data"), and on AWS it can be neither cancelled nor deleted.
  if (!m.shards.some((s) => !(s.records === 0)))
    throw new PbError(
      'PB_LIMIT',
      'the manifest lists no records (its input was empty, or every record was rejected): a batch job needs at least one, so no job was created',
      { file: uri },
    );
  for (const s of m.shards) {
    const local = [String(s.folder), ...shardUris(s)].find((u) => !isS3Uri(u));
    if (local !== undefined)
      throw new PbError(
        'PB_USAGE',
        `shard ${s.index} is local (${local}); jobs read from S3: shard to s3://bucket/prefix/ (shard -o, prepare --shard-out)`,
        { file: uri },
      );
  }
  return m as ManifestLike;
}
