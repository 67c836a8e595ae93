import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { docKindOf, FIRST_BYTES, firstRecordProblem, wrongKind } from '../../core/doc-kind.js';
import { type FamilyInfo, resolveFamily } from '../../core/families.js';
import { type CutResult, HashCut, type HashHistogram } from '../../core/hashcut.js';
import { countRegularLines } from '../../core/linecount.js';
import { PbError, usage } from '../../errors.js';
import { expandBatchInputs, peekHead } from '../../io/doc-kind.js';
import { type HashStream, OffThreadHasher } from '../../io/hasher.js';
import { openLinesReusing, openSource, peekStream, wholeLines } from '../../io/input.js';
import { MultipartWriter, PartBudget, type PartBudgetOptions } from '../../io/multipart.js';
import { trackTemporary } from '../../io/output.js';
import { defaultS3Client, deleteS3, isS3Uri, listS3, parseS3Uri, writeS3 } from '../../io/s3.js';

/** Service quotas per job input (reference: quotas): 1 GB, 50 million records, 1000 files. */
export const SHARD_DEFAULTS = {
  maxBytes: 1_000_000_000,
  maxRecords: 50_000_000,
  maxFilesPerShard: 1000,
} as const;

export interface ShardOptions {
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
}

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

export interface ShardSummary {
  manifest: string;
  shards: number;
  records: number;
  bytes: number;
  blankLines: number;
  seconds: number;
}

const LF = 10;
const CR = 13;

/** One shard file being written (a local file, or an S3 object through a multipart upload), with its counts and checksum. */
class ShardFile {
  records = 0;
  bytes = 0;
  /** SHA-256 on the run's hasher thread (the shard's too, when given: one copy feeds both). */
  private readonly hash: HashStream;
  /**
   * A local file, written synchronously: a write to the page cache takes
   * less than handing it to the thread pool and waiting, and the chunk is
   * free again at once, so the reader's and the cutter's buffers are reused
   * while they are still in the CPU cache (1 GB copied in 128 KiB pieces:
   * 0.42 s; in fresh 1 MiB buffers through a write stream: over 2 s).
   */
  private fd: number | undefined;
  /** An S3 object, its parts drawn from the run's PartBudget. */
  private readonly upload: MultipartWriter | undefined;
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  private fill = 0;

  constructor(
    /** The shard's index. */
    readonly index: number,
    /** Where the file goes: a local path or an s3:// URI. */
    readonly uri: string,
    /** Its name in messages: where it ends up (a local file is written in a temporary folder, renamed at the end). */
    private readonly shownAs: string,
    parts: PartBudget | undefined,
    hasher: OffThreadHasher,
    /** The shard's hash over all its files, when it has several (see ShardInfo.sha256). */
    shardHash?: HashStream,
  ) {
    this.hash = hasher.create({ also: shardHash });
    if (isS3Uri(uri)) {
      if (!parts) throw new Error("an S3 shard needs the run's part budget");
      this.upload = new MultipartWriter(defaultS3Client(), uri, parts);
    } else {
      try {
        this.fd = openSync(uri, 'w');
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const reason =
          e.code === 'EMFILE'
            ? 'too many open files (every hash shard keeps its file open: raise `ulimit -n`)'
            : e.message;
        throw new PbError('PB_IO', `cannot create: ${reason}`, { file: shownAs }, { cause: err });
      }
    }
  }

  /**
   * Appends line[s, e) and a newline; a promise when the run's part budget
   * is full (S3). A `verbatim` line (already ending in LF right at e) that follows
   * the previous one in the same chunk extends a run that is written as one
   * slice of the chunk, with no copy: most lines in size mode.
   */
  add(line: Buffer, s: number, e: number, verbatim: boolean): Promise<unknown> | undefined {
    const n = e - s + 1;
    this.records++;
    this.bytes += n;
    if (verbatim) {
      if (this.runSeg === line && this.runEnd === s) {
        this.runEnd = e + 1;
        return undefined;
      }
      const w = both(this.flushRun(), this.flush());
      this.runSeg = line;
      this.runStart = s;
      this.runEnd = e + 1;
      return w;
    }
    let wait = this.flushRun();
    if (this.fill + n > this.buf.length) {
      wait = both(wait, this.flush());
      if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
    }
    // A byte loop: Buffer.copy's checks cost more than a short line.
    const buf = this.buf;
    for (let i = s, o = this.fill; i < e; i++, o++) buf[o] = line[i] as number;
    this.buf[this.fill + n - 1] = LF;
    this.fill += n;
    return wait;
  }

  private runSeg: Buffer | undefined;
  private runStart = 0;
  private runEnd = 0;

  private flushRun(): Promise<unknown> | undefined {
    if (!this.runSeg) return undefined;
    const chunk = this.runSeg.subarray(this.runStart, this.runEnd);
    this.runSeg = undefined;
    return this.put(chunk);
  }

  private flush(): Promise<unknown> | undefined {
    if (this.fill === 0) return undefined;
    const chunk = this.buf.subarray(0, this.fill);
    this.fill = 0;
    const w = this.put(chunk);
    // A file has written the chunk and an S3 upload has copied it, unless it
    // is still waiting for room (then it holds it until w settles).
    if (w) this.buf = Buffer.allocUnsafe(this.buf.length);
    return w;
  }

  /**
   * Bytes of complete lines whose counts the caller keeps (hash mode's
   * slices, about 1/N of a chunk each): gathered in the line buffer, so a
   * file gets a few large writes instead of one per chunk (8 shards of
   * 128 KiB chunks: 1.5 s of write calls per GB, a third of the run).
   */
  append(bytes: Buffer): Promise<unknown> | undefined {
    let wait = this.flushRun();
    if (this.fill + bytes.length > this.buf.length) wait = both(wait, this.flush());
    if (bytes.length >= this.buf.length) return both(wait, this.put(bytes));
    // flush() gave the buffer a fresh one if an upload still holds the old.
    bytes.copy(this.buf, this.fill);
    this.fill += bytes.length;
    return wait;
  }

  /** A whole chunk of `records` complete lines, written as it is. */
  addChunk(chunk: Buffer, records: number): Promise<unknown> | undefined {
    this.records += records;
    this.bytes += chunk.length;
    return both(both(this.flushRun(), this.flush()), this.put(chunk));
  }

  /**
   * Writes bytes; a promise when the run's part budget is full. A file has
   * written them when this returns; an S3 shard copies them straight into
   * its current part (a slice of a buffer that all shards share is never
   * kept). Either way the caller may reuse `chunk` once the promise, if
   * any, settles.
   */
  put(chunk: Buffer): Promise<unknown> | undefined {
    this.hash.update(chunk);
    if (this.upload) return this.upload.write(chunk);
    try {
      writeAll(this.fd as number, chunk);
    } catch (err) {
      throw new PbError(
        'PB_IO',
        `cannot write: ${(err as Error).message}`,
        { file: this.shownAs },
        { cause: err },
      );
    }
    return undefined;
  }

  /**
   * Writes out the run of lines kept as a slice of the current chunk: the
   * reader reuses its buffers (openLinesReusing), so nothing may point into
   * a chunk once the cutter is done with it.
   */
  endChunk(): Promise<unknown> | undefined {
    return this.flushRun();
  }

  /** Writes out what is buffered; for S3, uploads every part but does not complete the object yet. */
  async end(): Promise<void> {
    await this.flushRun();
    await this.flush();
    await this.upload?.end();
  }

  async close(): Promise<string> {
    await this.end();
    if (this.upload) await this.upload.close();
    else this.closeFile();
    return this.hash.digest();
  }

  /** Stops writing; an S3 upload is aborted, so no partial object appears. */
  async destroy(): Promise<void> {
    if (this.upload) await this.upload.abort();
    else this.closeFile();
  }

  private closeFile(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    closeSync(fd);
  }
}

/** writeSync until every byte is written (it may write fewer). */
function writeAll(fd: number, chunk: Uint8Array): void {
  for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at, chunk.length - at);
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
export async function shard(options: ShardOptions): Promise<ShardSummary> {
  const started = process.hrtime.bigint();
  const family = resolveFamily(options.recipe);
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
  // What to read, checked by content before anything is written: a folder or prefix stands for its files.
  const source = options.source ?? (await shardSource(options.input, options.stdin, family));
  const toS3 = isS3Uri(options.out);
  // Local output is built in a temporary folder and renamed into place; S3
  // output goes straight to its keys (each upload is invisible until done
  // and aborted on failure), and manifest.json, written last, marks a
  // complete set.
  const out = toS3 ? (options.out.endsWith('/') ? options.out : `${options.out}/`) : resolve(options.out);
  if (toS3) await checkS3Out(out, options.force === true);
  else await checkOut(out, options.force === true);
  const tmp = toS3
    ? ''
    : join(dirname(out), `.${basename(out)}.tmp-${process.pid}-${Date.now().toString(36)}`);
  const tracked = toS3 ? undefined : trackTemporary(tmp);
  if (!toS3) await mkdir(tmp, { recursive: true });
  // One budget of part buffers and upload slots for every S3 shard of the run.
  const parts = toS3 ? new PartBudget(options.upload) : undefined;
  // SHA-256 of every shard file on a worker thread: 0.7 s of every GB on
  // this thread otherwise, a third of a size-mode run.
  const hasher = new OffThreadHasher();
  /** Every file opened, to destroy the unfinished ones on failure. */
  const opened: ShardFile[] = [];
  /** The file being written per shard (all N in hash mode; the last in size mode). */
  const files: ShardFile[] = [];
  const infos: ShardInfo[] = [];
  const done: ShardFileInfo[][] = [];
  const shardHashes: (HashStream | undefined)[] = [];
  const finishedFiles = new Set<ShardFile>();
  const finalFolder = (i: number) => (toS3 ? `${out}${shardName(i)}/` : `${join(out, shardName(i))}/`);
  const fileName = (k: number) => (multi ? `input-${String(k).padStart(5, '0')}.jsonl` : 'input.jsonl');
  /** Opens the shard's next file (its first when it is new). */
  const open = async (i: number) => {
    if (!done[i]) {
      done[i] = [];
      shardHashes[i] = multi ? hasher.create() : undefined;
      if (!toS3) await mkdir(join(tmp, shardName(i)));
    }
    const name = fileName((done[i] as ShardFileInfo[]).length);
    const uri = toS3 ? `${finalFolder(i)}${name}` : join(tmp, shardName(i), name);
    const f = new ShardFile(i, uri, `${finalFolder(i)}${name}`, parts, hasher, shardHashes[i]);
    opened.push(f);
    files[i] = f;
    return f;
  };
  const finishFile = async (f: ShardFile) => {
    const sha256 = await f.close();
    finishedFiles.add(f);
    const list = done[f.index] as ShardFileInfo[];
    list.push({
      uri: `${finalFolder(f.index)}${fileName(list.length)}`,
      records: f.records,
      bytes: f.bytes,
      sha256,
    });
  };
  const finishShard = async (i: number) => {
    const list = done[i] as ShardFileInfo[];
    let records = 0;
    let bytes = 0;
    for (const x of list) {
      records += x.records;
      bytes += x.bytes;
    }
    const first = list[0] as ShardFileInfo;
    infos[i] = {
      index: i,
      uri: first.uri,
      folder: finalFolder(i),
      records,
      bytes,
      // Digested after its last file's: the hasher takes records in order.
      sha256: (await shardHashes[i]?.digest()) ?? first.sha256,
      files: list,
    };
  };
  const finish = async (f: ShardFile) => {
    await finishFile(f);
    await finishShard(f.index);
  };
  let records = 0;
  let bytes = 0;
  let blank = 0;
  try {
    const n = options.shards ?? 1;
    if (hashMode) for (let i = 0; i < n; i++) await open(i);
    else await open(0);
    const tooLongLine = () =>
      new PbError('PB_LIMIT', `a line of more than ${maxBytes} bytes is larger than --max-bytes`, {
        file: options.input,
      });
    const lines = source
      ? wholeLines(source, maxBytes + 2, tooLongLine)
      : openLinesReusing(options.input, { stdin: options.stdin }, maxBytes + 2, tooLongLine);
    let histogram: HashHistogram | undefined;
    if (hashMode) {
      const r = await hashShard(lines, files, n, maxBytes, options.input);
      ({ records, bytes, blank, histogram } = r);
    } else {
      const cut = new SizeCutter(
        files[0] as ShardFile,
        maxBytes,
        maxRecords,
        fileRecords,
        maxFiles,
        options.input,
      );
      for await (const seg of lines) {
        cut.pos = 0;
        for (;;) {
          const status = cut.scan(seg);
          if (status === CUT_DONE) break;
          if (status === CUT_FILE) {
            // A full file is finished at once: only one is open in size mode.
            await finishFile(cut.current);
            cut.nextFile(await open(cut.current.index));
          } else if (status === CUT_OPEN) {
            await finish(cut.current);
            cut.nextShard(await open(cut.current.index + 1));
          } else await cut.wait;
        }
        const w = cut.current.endChunk();
        if (w) await w;
      }
      records = cut.records;
      bytes = cut.bytes;
      blank = cut.blank;
    }
    // The shards still open (all of them in hash mode) first store every
    // part, then complete: a part that fails leaves no shard object at all.
    // Both steps run for all shards at once, so the last parts and the
    // servers' work to assemble each object overlap (8 shards to s3rver:
    // 6.7 s one after the other); every one settles before an error is
    // thrown, so no abort races a completion.
    const still = files.filter((f) => !finishedFiles.has(f));
    await settled(still.map((f) => f.end()));
    await settled(still.map(finish));
    await hasher.close();
    if (histogram) checkHashShards(infos, n, maxBytes, maxRecords, histogram);
    // A shard with no record is never listed: a job over it fails ("no input data") and on AWS
    // cannot be cancelled or deleted. Hash shards keep their numbers, so a gap is a bucket no key hashed to.
    for (const s of infos) {
      if (s.records > 0) continue;
      for (const f of s.files) {
        if (toS3) await deleteS3(f.uri);
      }
      if (!toS3) await rm(join(tmp, shardName(s.index)), { recursive: true, force: true });
    }
    const kept = infos.filter((s) => s.records > 0);
    const manifest: Manifest = {
      version: 1,
      family: family.family,
      createdAt: new Date().toISOString(),
      mode: hashMode ? 'hash' : 'size',
      limits: {
        maxBytes,
        maxRecords,
        maxRecordsPerFile: fileRecords,
        maxFilesPerShard: multi ? maxFiles : 1,
      },
      records,
      bytes,
      shards: kept,
    };
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    if (toS3) {
      await writeS3(
        defaultS3Client(),
        `${out}manifest.json`,
        (async function* () {
          yield Buffer.from(text);
        })(),
      );
    } else {
      await writeFile(join(tmp, 'manifest.json'), text);
      if (options.force) await rm(out, { recursive: true, force: true });
      await rename(tmp, out);
    }
  } catch (err) {
    await hasher.destroy();
    for (const f of opened) if (!finishedFiles.has(f)) await f.destroy();
    if (!toS3) await rm(tmp, { recursive: true, force: true });
    throw err;
  } finally {
    tracked?.done();
  }
  return {
    manifest: toS3 ? `${out}manifest.json` : join(out, 'manifest.json'),
    shards: infos.filter((s) => s.records > 0).length,
    records,
    bytes,
    blankLines: blank,
    seconds: Number(process.hrtime.bigint() - started) / 1e9,
  };
}

/**
 * The bytes to shard when they are not one local file or S3 object read as it is: a folder or an
 * `s3://bucket/prefix/` (its files in name order, the tool's manifest.json and _CHECK left out, each
 * ending its last line), or stdin. A named file is checked by content and read by the caller.
 */
async function shardSource(
  input: string,
  stdin: Readable | undefined,
  family: FamilyInfo,
): Promise<AsyncIterable<Buffer> | undefined> {
  if (input === '-') {
    const { head, rest } = await peekStream(openSource('-', { stdin }), FIRST_BYTES);
    checkShardHead(head, input, family);
    return rest;
  }
  // A file or object: its first bytes are read once, here; the caller reads it whole.
  const head = await peekHead(input);
  if (head) {
    checkShardHead(head, input, family);
    return undefined;
  }
  // A folder or prefix (each file checked as it is read below), or a pipe or a missing file (left
  // to the caller's open, which says so).
  const files = await expandBatchInputs([input], { manifests: 'as-is' });
  if (files.length === 1 && files[0] === input) return undefined;
  return (async function* () {
    for (const file of files) {
      const { head, rest } = await peekStream(openSource(file), FIRST_BYTES);
      checkShardHead(head, file, family);
      let last = LF;
      for await (const chunk of rest) {
        if (chunk.length === 0) continue;
        last = chunk[chunk.length - 1] as number;
        yield chunk;
      }
      // The next file's first record must not join this file's last line.
      if (last !== LF) yield Buffer.from('\n');
    }
  })();
}

/** The file's kind and its first record, from its first bytes: anything but batch input of this family is refused. */
function checkShardHead(head: Buffer, file: string, family: FamilyInfo): void {
  const wrong = wrongKind(docKindOf(head), 'batch-input', file);
  if (wrong) throw wrong;
  const problem = firstRecordProblem(head, family);
  if (problem) throw new PbError('PB_USAGE', problem, { file });
}

export function shardName(i: number): string {
  return `shard-${String(i).padStart(5, '0')}`;
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

async function checkOut(out: string, force: boolean): Promise<void> {
  let entries: string[];
  try {
    if (!(await stat(out)).isDirectory()) throw usage(`the output ${out} is a file, not a folder`);
    entries = await readdir(out);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (entries.length > 0 && !force) {
    throw usage(`the output folder ${out} is not empty; remove it or pass --force to replace it`);
  }
}

const CUT_DONE = 0;
const CUT_WAIT = 1;
/** The shard is full: open the next shard. */
const CUT_OPEN = 2;
/** The file is full but its shard is not: open the shard's next file. */
const CUT_FILE = 3;

/**
 * Size mode, synchronous so V8 optimises it as a plain method; it stops,
 * with its place kept, when a file must be waited for or a new shard opened.
 * A chunk of regular lines that fits the open shard is written whole, its
 * lines only counted (countRegularLines); near a limit, and for CRLF, blank
 * lines or a BOM, lines are cut one by one.
 */
class SizeCutter {
  pos = 0;
  line = 0;
  records = 0;
  bytes = 0;
  blank = 0;
  wait: Promise<unknown> | undefined;
  /** The open shard's totals over its finished files (the open one's are its own). */
  private doneRecords = 0;
  private doneBytes = 0;
  private doneFiles = 0;

  constructor(
    public current: ShardFile,
    private readonly maxBytes: number,
    private readonly maxRecords: number,
    private readonly fileRecords: number,
    private readonly maxFiles: number,
    private readonly file: string,
  ) {}

  nextFile(f: ShardFile): void {
    this.doneRecords += this.current.records;
    this.doneBytes += this.current.bytes;
    this.doneFiles++;
    this.current = f;
  }

  nextShard(f: ShardFile): void {
    this.doneRecords = 0;
    this.doneBytes = 0;
    this.doneFiles = 0;
    this.current = f;
  }

  scan(seg: Buffer): number {
    const len = seg.length;
    let p = this.pos;
    if (p === 0 && this.line > 0 && this.doneBytes + this.current.bytes + len <= this.maxBytes) {
      const n = countRegularLines(seg);
      if (
        n > 0 &&
        this.current.records + n <= this.fileRecords &&
        this.doneRecords + this.current.records + n <= this.maxRecords
      ) {
        this.line += n;
        this.records += n;
        this.bytes += len;
        this.pos = len;
        this.wait = this.current.addChunk(seg, n);
        return this.wait ? CUT_WAIT : CUT_DONE;
      }
    }
    while (p < len) {
      let nl = p;
      while (nl < len && seg[nl] !== LF) nl++;
      let e = nl;
      if (e > p && seg[e - 1] === CR) e--;
      const first = this.line === 0;
      const s = first && seg[p] === 0xef && seg[p + 1] === 0xbb && seg[p + 2] === 0xbf ? p + 3 : p;
      if (isBlank(seg, s, e)) {
        this.line++;
        this.blank++;
        p = nl + 1;
        continue;
      }
      const size = e - s + 1;
      if (size > this.maxBytes) throw tooLong(size, this.maxBytes, this.file, this.line + 1);
      const c = this.current;
      if (
        this.doneBytes + c.bytes + size > this.maxBytes ||
        this.doneRecords + c.records + 1 > this.maxRecords
      ) {
        this.pos = p;
        return CUT_OPEN;
      }
      if (c.records + 1 > this.fileRecords) {
        this.pos = p;
        return this.doneFiles + 1 >= this.maxFiles ? CUT_OPEN : CUT_FILE;
      }
      this.line++;
      this.records++;
      this.bytes += size;
      const w = c.add(seg, s, e, s === p && e === nl && nl < len);
      p = nl + 1;
      if (w) {
        this.pos = p;
        this.wait = w;
        return CUT_WAIT;
      }
    }
    this.pos = p;
    return CUT_DONE;
  }
}

function tooLong(size: number, maxBytes: number, file: string, line: number): PbError {
  return new PbError('PB_LIMIT', `a line of ${size} bytes is larger than --max-bytes ${maxBytes}`, {
    file,
    line,
  });
}

/**
 * Hash mode: chunks are cut by HashCut (src/core/hashcut.ts) and written
 * shard by shard in input order, so a run's shard files are the same bytes
 * every time. Two worker threads cutting alternate chunks were tried: on
 * this 2-vCPU machine they gained nothing measurable over the main thread
 * and cost 140 MB more memory.
 */
async function hashShard(
  lines: AsyncIterable<Buffer>,
  files: ShardFile[],
  n: number,
  maxBytes: number,
  file: string,
): Promise<{ records: number; bytes: number; blank: number; histogram: HashHistogram }> {
  // Every shard file has written or copied what it is given once put()
  // settles (ShardFile.put), as HashCut's reused out buffer needs.
  const core = new HashCut(n, maxBytes);
  let lineBase = 0;
  let first = true;
  const totals = { records: 0, bytes: 0, blank: 0 };
  for await (const seg of lines) {
    let r: CutResult;
    try {
      r = core.cut(seg, first);
    } catch (err) {
      // HashCut knows the line within the chunk; the file and the lines before it are known here.
      throw err instanceof PbError && err.file === undefined
        ? new PbError(err.code, err.reason, { file, line: lineBase + (err.line ?? 0), field: err.field })
        : err;
    }
    first = false;
    let start = 0;
    for (let t = 0; t < n; t++) {
      const end = r.ends[t] as number;
      const f = files[t] as ShardFile;
      f.records += r.recs[t] as number;
      f.bytes += end - start;
      if (end > start) {
        const w = f.append(r.out.subarray(start, end));
        if (w) await w;
      }
      start = end;
    }
    lineBase += r.lines;
    totals.records += r.records;
    totals.bytes += r.bytes;
    totals.blank += r.blank;
  }
  return { ...totals, histogram: core.histogram };
}

/** A shard over the limits in hash mode: say how many shards would fit. */
function checkHashShards(
  infos: ShardInfo[],
  n: number,
  maxBytes: number,
  maxRecords: number,
  histogram: HashHistogram,
): void {
  const over = infos.find((s) => s.bytes > maxBytes || s.records > maxRecords);
  if (!over) return;
  let total = 0;
  let totalBytes = 0;
  for (const s of infos) {
    total += s.records;
    totalBytes += s.bytes;
  }
  let k = Math.max(n + 1, Math.ceil(total / maxRecords), Math.ceil(totalBytes / maxBytes));
  while (k < 1_000_000 && !histogram.fits(k, maxBytes, maxRecords)) k++;
  throw new PbError(
    'PB_LIMIT',
    `${shardName(over.index)} would hold ${over.records} records and ${over.bytes} bytes, over the limits (${maxRecords} records, ${maxBytes} bytes): use --shards ${k} or more`,
  );
}

/** Waits for every promise; then throws the first rejection, if any. */
async function settled(all: Promise<unknown>[]): Promise<void> {
  for (const r of await Promise.allSettled(all)) if (r.status === 'rejected') throw r.reason;
}

function both(
  a: Promise<unknown> | undefined,
  b: Promise<unknown> | undefined,
): Promise<unknown> | undefined {
  return a && b ? Promise.all([a, b]) : (a ?? b);
}

function isBlank(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c !== 32 && c !== 9 && c !== CR) return false;
  }
  return true;
}
