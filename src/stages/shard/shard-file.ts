import type { HashStream, OffThreadHasher } from '../../io/hasher.js';
import type { FileSink } from './destination.js';

const LF = 10;

/** One shard file being written (a local file, or an S3 object through a multipart upload), with its counts and checksum. */
export class ShardFile {
  records = 0;
  bytes = 0;
  /** SHA-256 on the run's hasher thread (the shard's too, when given: one copy feeds both). */
  private readonly hash: HashStream;
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  private fill = 0;

  constructor(
    /** The shard's index. */
    readonly index: number,
    /** Where the bytes go: a local file or an S3 upload (see ShardDestination.openFile). */
    private readonly sink: FileSink,
    hasher: OffThreadHasher,
    /** The shard's hash over all its files, when it has several (see ShardInfo.sha256). */
    shardHash?: HashStream,
  ) {
    this.hash = hasher.create({ also: shardHash });
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
    return this.sink.write(chunk);
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
    await this.sink.end();
  }

  async close(): Promise<string> {
    await this.end();
    await this.sink.close();
    return this.hash.digest();
  }

  /** Stops writing; an S3 upload is aborted, so no partial object appears. */
  async destroy(): Promise<void> {
    await this.sink.abort();
  }
}

/** One promise for two writes, either of which may be none. */
function both(
  a: Promise<unknown> | undefined,
  b: Promise<unknown> | undefined,
): Promise<unknown> | undefined {
  return a && b ? Promise.all([a, b]) : (a ?? b);
}
