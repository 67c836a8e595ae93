import { HeadBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { type Family, type FamilyInfo, familyInfo } from '../core/families.js';
import { isPbError, PbError } from '../errors.js';
import { wholeLines } from '../io/input.js';
import { listS3, parseS3Uri, readS3, s3Error, writeS3 } from '../io/s3.js';
import { prng } from '../sample.js';
import type { Catalog } from './catalog.js';
import type { JobSpec, RunResult } from './jobs.js';
import { hash, makeRecommender, type OutputLine, type SegmentLayout } from './recommend.js';

/**
 * Runs one emulated job against the emulator's S3: reads every object under
 * the input prefix, writes `<input base name>.out` per object and a `_CHECK`
 * object to the output prefix. Two passes over the input: the first checks
 * what would make the service fail the whole job (no input, a line that is
 * not JSON, a quota), so a failed job writes nothing; the second writes the
 * output.
 *
 * Memory: one block of output lines (at most `blockLines` lines or
 * `blockBytes` of text) is held to shuffle it, plus the upload's one 5 MiB
 * part and the longest line (at most 16 MiB). Input and output sizes do not
 * matter.
 */

/** The service's input quotas (reference §5); smaller values make tests cheap. */
export interface Quotas {
  /** Input objects per job. Default 1000. */
  maxFiles: number;
  /** Bytes of all input objects of one job. Default 1 GB (10^9). */
  maxBytes: number;
  /** Records per input file of a batch inference job. Default 50 million. */
  maxRecordsPerFile: number;
  /** Records per input file with THEME_GENERATION. Default 100. */
  maxThemeRecordsPerFile: number;
  /** Item-Affinity queries per input file. Default 500. */
  maxItemAffinityQueries: number;
  /** Item-Attribute-Affinity queries per input file. Default 10. */
  maxAttributeQueries: number;
}

export const DEFAULT_QUOTAS: Quotas = {
  maxFiles: 1000,
  maxBytes: 1_000_000_000,
  maxRecordsPerFile: 50_000_000,
  maxThemeRecordsPerFile: 100,
  maxItemAffinityQueries: 500,
  maxAttributeQueries: 10,
};

export interface RunnerEnv {
  s3: S3Client;
  catalog: Catalog;
  /** Size of the generated user population for segment jobs. */
  users: number;
  quotas: Quotas;
  segmentLayout: SegmentLayout;
  /** Lines shuffled together. Default 10000. */
  blockLines?: number;
  /** Characters of output shuffled together. Default 8 MiB. */
  blockBytes?: number;
}

/** The longest input line read; longer fails the job. */
const MAX_LINE = 16 * 1024 * 1024;
const DEFAULT_NUM_RESULTS = 25;

/**
 * The recipe family a solution version ARN names, by words in it such as
 * `solution/my-sims-model/1`: the emulator has no solutions, so the ARN is
 * the only hint. Undefined when nothing matches.
 */
export function familyFromArn(arn: string): Family | undefined {
  const s = arn.toLowerCase().replace(/^arn:[^:]*:personalize:[^:]*:[^:]*:/, '');
  if (/attribute[-_]?affinity/.test(s)) return 'item-attribute-affinity';
  if (/item[-_]?affinity/.test(s)) return 'item-affinity';
  if (/popular/.test(s)) return 'popular-items';
  if (/ranking/.test(s)) return 'personalized-ranking';
  if (/sims|similar|related/.test(s)) return 'related-items';
  if (/user[-_]?personalization|hrnn/.test(s)) return 'user-personalization';
  return undefined;
}

/** The family a record's keys suggest for this job type, or undefined. */
function familyFromRecord(v: unknown, segment: boolean): Family | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const r = v as Record<string, unknown>;
  if (segment) {
    if ('itemAttributes' in r) return 'item-attribute-affinity';
    if ('itemId' in r) return 'item-affinity';
    return undefined;
  }
  if ('itemList' in r) return 'personalized-ranking';
  if ('userId' in r) return 'user-personalization';
  if ('itemId' in r) return 'related-items';
  return undefined;
}

interface InputObject {
  uri: string;
  key: string;
  size: number;
  base: string;
}

/** Runs a job to its result; never rejects. */
export async function runJob(env: RunnerEnv, spec: JobSpec, signal: AbortSignal): Promise<RunResult> {
  let family: Family | undefined;
  try {
    const segment = spec.kind === 'batch-segment-job';
    for (const p of [spec.inputPath, spec.outputPath]) {
      if (!p.startsWith('s3://'))
        throw new PbError('PB_IO', 'the emulator reads and writes s3:// paths only', { file: p });
    }
    const out = parseS3Uri(spec.outputPath);
    const outPrefix = out.key === '' || out.key.endsWith('/') ? out.key : `${out.key}/`;
    await checkBucket(env.s3, out.bucket, spec.outputPath);
    const inputs = await listInputs(env, spec.inputPath);

    // Pass 1: everything that fails the whole job, before a byte is written.
    const hinted = familyFromArn(spec.solutionVersionArn);
    const { counts, seen } = await countRecords(env.s3, inputs, segment, signal);
    family = spec.themes
      ? (hinted ?? 'related-items')
      : (hinted ?? seen ?? (segment ? 'item-affinity' : 'user-personalization'));
    const info = familyInfo(family);
    checkFamily(spec, info, segment);
    const limit = perFileLimit(env.quotas, info, spec.themes !== undefined);
    inputs.forEach((input, i) => {
      const n = counts[i] as number;
      if (n > limit.max) {
        throw new PbError(
          'PB_LIMIT',
          `${n} records; the limit is ${limit.max} ${limit.what} per input file`,
          {
            file: input.uri,
          },
        );
      }
    });
    const themeNames = spec.themes ? themeNamesOf(env.catalog, spec.themes.itemName) : undefined;

    // Pass 2: the output.
    const recommend = makeRecommender({
      family: info,
      catalog: env.catalog,
      users: env.users,
      numResults: spec.numResults ?? DEFAULT_NUM_RESULTS,
      themeNames,
      segmentLayout: env.segmentLayout,
    });
    const tally = { lines: 0, errors: 0 };
    const outputs: string[] = [];
    for (const [i, input] of inputs.entries()) {
      const uri = `s3://${out.bucket}/${outPrefix}${input.base}.out`;
      if (counts[i] === 0) await put(env.s3, uri, '');
      else {
        const blocks = outputBlocks(env, input, recommend, tally, signal);
        await writeS3(env.s3, uri, blocks, { partSize: 5 * 1024 * 1024, queueSize: 1 });
      }
      outputs.push(uri);
    }
    await put(env.s3, `s3://${out.bucket}/${outPrefix}_CHECK`, '');
    return { ok: true, family, lines: tally.lines, errorLines: tally.errors, outputs };
  } catch (err) {
    const reason = isPbError(err) ? err.message : `internal error: ${(err as Error)?.message ?? String(err)}`;
    return { ok: false, reason, family };
  }
}

/** Records per input object, and the family the first telling record suggests (pass 1 reads every line). */
async function countRecords(
  s3: S3Client,
  inputs: readonly InputObject[],
  segment: boolean,
  signal: AbortSignal,
): Promise<{ counts: number[]; seen: Family | undefined }> {
  let seen: Family | undefined;
  const counts: number[] = [];
  for (const input of inputs) {
    let n = 0;
    for await (const batch of recordsOf(s3, input.uri, signal)) {
      for (const r of batch) {
        n++;
        seen ??= familyFromRecord(r.value, segment);
      }
    }
    counts.push(n);
  }
  return { counts, seen };
}

/** The job type and mode must suit the family the solution version looks like. */
function checkFamily(spec: JobSpec, info: FamilyInfo, segment: boolean): void {
  const family = info.family;
  if (info.segment !== segment) {
    throw new PbError(
      'PB_USAGE',
      segment
        ? `solution version ${spec.solutionVersionArn} looks like a ${family} solution: batch segment jobs need a USER_SEGMENTATION recipe (Item-Affinity, Item-Attribute-Affinity)`
        : `solution version ${spec.solutionVersionArn} looks like a ${family} solution: use a batch segment job for USER_SEGMENTATION recipes`,
    );
  }
  if (spec.themes && family !== 'related-items') {
    throw new PbError(
      'PB_USAGE',
      `THEME_GENERATION needs a Similar-Items solution version; ${spec.solutionVersionArn} looks like ${family}`,
    );
  }
}

/** The item names themes are made of: the catalog's column of that name. */
function themeNamesOf(catalog: Catalog, column: string): readonly string[] {
  const names = catalog.column(column);
  if (!names) {
    throw new PbError(
      'PB_USAGE',
      `themeGenerationConfig.fieldsForThemeGeneration.itemName: the Items dataset has no column ${column} (columns: ${catalog.columns.join(', ')})`,
    );
  }
  return names;
}

function perFileLimit(q: Quotas, info: FamilyInfo, themes: boolean): { max: number; what: string } {
  if (themes) return { max: q.maxThemeRecordsPerFile, what: 'records with themes' };
  if (info.family === 'item-affinity')
    return { max: q.maxItemAffinityQueries, what: 'Item-Affinity queries' };
  if (info.family === 'item-attribute-affinity') {
    return { max: q.maxAttributeQueries, what: 'Item-Attribute-Affinity queries' };
  }
  return { max: q.maxRecordsPerFile, what: 'records' };
}

async function checkBucket(s3: S3Client, bucket: string, uri: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    // HEAD answers have no body, so a missing bucket is only a 404 named NotFound.
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) throw new PbError('PB_IO', 'no such bucket', { file: uri }, { cause: err });
    throw s3Error(uri, err);
  }
}

async function put(s3: S3Client, uri: string, body: string): Promise<void> {
  const { bucket, key } = parseS3Uri(uri);
  try {
    // ContentLength given: for an empty body the SDK leaves it out and then warns about streams.
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: Buffer.byteLength(body) }),
    );
  } catch (err) {
    throw s3Error(uri, err);
  }
}

/**
 * The objects under the input path, which is a prefix like the service's:
 * `s3://b/folder` also takes `folder_test/...`. Zero-byte objects (folder
 * markers) and `_CHECK` are skipped; the file and size quotas are checked
 * while listing.
 */
async function listInputs(env: RunnerEnv, path: string): Promise<InputObject[]> {
  const found: InputObject[] = [];
  let bytes = 0;
  for await (const o of listS3(env.s3, path)) {
    if (o.size === 0) continue;
    bytes += o.size;
    found.push({
      uri: `s3://${o.bucket}/${o.key}`,
      key: o.key,
      size: o.size,
      base: o.key.split('/').pop() as string,
    });
    if (found.length > env.quotas.maxFiles) {
      throw new PbError('PB_LIMIT', `more than ${env.quotas.maxFiles} input files under the input path`, {
        file: path,
      });
    }
  }
  if (found.length === 0)
    throw new PbError('PB_IO', 'no input data: nothing under this path', { file: path });
  if (bytes > env.quotas.maxBytes) {
    throw new PbError(
      'PB_LIMIT',
      `the input is ${bytes} bytes; the limit is ${env.quotas.maxBytes} bytes per job`,
      {
        file: path,
      },
    );
  }
  const byBase = new Map<string, string>();
  for (const f of found) {
    const other = byBase.get(f.base);
    if (other) {
      throw new PbError(
        'PB_USAGE',
        `${other} and ${f.uri} would both write ${f.base}.out: give input files distinct names`,
        { file: path },
      );
    }
    byBase.set(f.base, f.uri);
  }
  return found;
}

interface InputRecord {
  line: number;
  value: unknown;
}

/**
 * An object's records, a batch per read chunk: lines split on LF (CR
 * dropped), blank lines skipped. A line that is not JSON fails the job,
 * with the object and line in the reason.
 */
async function* recordsOf(s3: S3Client, uri: string, signal: AbortSignal): AsyncGenerator<InputRecord[]> {
  const tooLong = () => new PbError('PB_LIMIT', `a line longer than ${MAX_LINE} bytes`, { file: uri });
  let line = 0;
  for await (const chunk of wholeLines(readS3(s3, uri), MAX_LINE, tooLong)) {
    if (signal.aborted) throw new PbError('PB_IO', 'the emulator is closing', { file: uri });
    const texts = chunk.toString('utf8').split('\n');
    if (texts[texts.length - 1] === '') texts.pop();
    const batch: InputRecord[] = [];
    for (const raw of texts) {
      line++;
      const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (text.trim() === '') continue;
      if (line === 1 && text.charCodeAt(0) === 0xfeff) {
        throw new PbError('PB_PARSE', 'not JSON: the file starts with a byte order mark (U+FEFF)', {
          file: uri,
          line,
        });
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        throw new PbError('PB_PARSE', `not JSON (${(err as Error).message})`, { file: uri, line });
      }
      batch.push({ line, value });
    }
    yield batch;
  }
}

/**
 * Output lines in shuffled blocks: the service does not keep line order, so
 * neither does the emulator, but within bounded memory. The shuffle is
 * seeded by the input's base name and the block number, so the same input
 * gives the same bytes.
 */
async function* outputBlocks(
  env: RunnerEnv,
  input: InputObject,
  recommend: (record: unknown) => OutputLine,
  tally: { lines: number; errors: number },
  signal: AbortSignal,
): AsyncGenerator<Buffer> {
  const maxLines = env.blockLines ?? 10_000;
  const maxChars = env.blockBytes ?? 8 * 1024 * 1024;
  let block: string[] = [];
  let chars = 0;
  let n = 0;
  const flush = (): Buffer => {
    const rand = prng(hash(`${input.base}\u0000${n++}`));
    for (let i = block.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      const t = block[i] as string;
      block[i] = block[j] as string;
      block[j] = t;
    }
    const buf = Buffer.from(`${block.join('\n')}\n`);
    block = [];
    chars = 0;
    return buf;
  };
  for await (const batch of recordsOf(env.s3, input.uri, signal)) {
    for (const r of batch) {
      const out = recommend(r.value);
      tally.lines++;
      if (out.error) tally.errors++;
      block.push(out.text);
      chars += out.text.length;
      if (block.length >= maxLines || chars >= maxChars) yield flush();
    }
  }
  if (block.length > 0) yield flush();
}
