import { countRegularLines } from '../../core/linecount.js';
import { PbError } from '../../errors.js';
import type { ResolvedShardOptions } from './options.js';
import type { ShardFile } from './shard-file.js';
import type { ShardSet } from './shard-set.js';

const LF = 10;
const CR = 13;

const CUT_DONE = 0;
const CUT_WAIT = 1;
/** The shard is full: open the next shard. */
const CUT_OPEN = 2;
/** The file is full but its shard is not: open the shard's next file. */
const CUT_FILE = 3;

/**
 * Size mode: fills shards one after the other, each up to the limits; a
 * shard of several files fills each file up to the per-file limit first.
 */
export async function sizeShard(
  lines: AsyncIterable<Buffer>,
  shards: ShardSet,
  o: ResolvedShardOptions,
  file: string,
  tick?: (records: number, bytes: number) => void,
): Promise<{ records: number; bytes: number; blank: number }> {
  const cut = new SizeCutter(
    shards.files[0] as ShardFile,
    o.maxBytes,
    o.maxRecords,
    o.fileRecords,
    o.maxFiles,
    file,
  );
  for await (const seg of lines) {
    cut.pos = 0;
    for (;;) {
      const status = cut.scan(seg);
      if (status === CUT_DONE) break;
      if (status === CUT_FILE) {
        // A full file is finished at once: only one is open in size mode.
        await shards.finishFile(cut.current);
        cut.nextFile(await shards.open(cut.current.index));
      } else if (status === CUT_OPEN) {
        await shards.finishShard(cut.current);
        cut.nextShard(await shards.open(cut.current.index + 1));
      } else await cut.wait;
    }
    const w = cut.current.endChunk();
    tick?.(cut.records, cut.bytes);
    if (w) await w;
  }
  return { records: cut.records, bytes: cut.bytes, blank: cut.blank };
}

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

function isBlank(b: Buffer, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = b[i];
    if (c !== 32 && c !== 9 && c !== CR) return false;
  }
  return true;
}
