import { usage } from '../../errors.js';
import { MultipartWriter, PartBudget, type PartBudgetOptions } from '../../io/multipart.js';
import { defaultS3Client, deleteS3, listS3, parseS3Uri, writeS3 } from '../../io/s3.js';
import type { FileSink, ShardDestination } from './destination.js';
import { type Manifest, manifestText, type ShardInfo, shardName } from './manifest.js';

/**
 * S3 output goes straight to its keys (each upload is invisible until done
 * and aborted on failure), and manifest.json, written last, marks a
 * complete set.
 */
export class ShardPrefix implements ShardDestination {
  readonly manifest: string;

  private constructor(
    /** The prefix, ending in `/`. */
    private readonly out: string,
    /** One budget of part buffers and upload slots for every S3 shard of the run. */
    private readonly parts: PartBudget,
  ) {
    this.manifest = `${out}manifest.json`;
  }

  /** Checks that the prefix holds nothing (with force, deletes an earlier run's shards). */
  static async open(
    out: string,
    force: boolean,
    upload: PartBudgetOptions | undefined,
  ): Promise<ShardPrefix> {
    const prefix = out.endsWith('/') ? out : `${out}/`;
    await checkS3Out(prefix, force);
    return new ShardPrefix(prefix, new PartBudget(upload));
  }

  folder(i: number): string {
    return `${this.out}${shardName(i)}/`;
  }

  async openShard(): Promise<void> {}

  /** An S3 object, its parts drawn from the run's PartBudget. */
  openFile(i: number, name: string): FileSink {
    return new MultipartWriter(defaultS3Client(), `${this.folder(i)}${name}`, this.parts);
  }

  async dropShard(s: ShardInfo): Promise<void> {
    for (const f of s.files) await deleteS3(f.uri);
  }

  async commit(manifest: Manifest): Promise<void> {
    const text = manifestText(manifest);
    await writeS3(
      defaultS3Client(),
      this.manifest,
      (async function* () {
        yield Buffer.from(text);
      })(),
    );
  }

  /** Each unfinished upload was aborted; the finished shards stay, with no manifest to mark them complete. */
  async discard(): Promise<void> {}

  done(): void {}
}

const SHARD_KEY = /(^|\/)(shard-\d{5}\/input(-\d{5})?\.jsonl|manifest\.json)$/;

/**
 * An S3 destination must hold nothing yet; with force, the shards and
 * manifest of an earlier run are deleted first (anything else is refused,
 * so --force never deletes data it did not write).
 */
async function checkS3Out(out: string, force: boolean): Promise<void> {
  const found: string[] = [];
  for await (const o of listS3(defaultS3Client(), out)) found.push(o.key);
  if (found.length === 0) return;
  if (!force)
    throw usage(`the output ${out} already holds objects; pass --force to replace an earlier run's shards`);
  const { bucket, key: prefix } = parseS3Uri(out);
  const foreign = found.filter((k) => !SHARD_KEY.test(k.slice(prefix.length)));
  if (foreign.length > 0) {
    throw usage(
      `the output ${out} holds objects that are not shards (${foreign.slice(0, 3).join(', ')}); not deleting them`,
    );
  }
  for (const k of found) await deleteS3(`s3://${bucket}/${k}`);
}
