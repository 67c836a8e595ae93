import { createWriteStream, openSync, rmSync, type Stats } from 'node:fs';
import {
  type FileHandle,
  lstat,
  mkdtemp,
  open,
  readdir,
  readlink,
  realpath,
  rename,
  rm,
  stat,
} from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Readable, pipeline as streamPipeline, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { partPath } from '../core/email-files.js';
import { PbError } from '../errors.js';
import { defaultS3Client, isS3Uri, writeS3 } from './s3.js';

/** Temporary files being written now, so an interrupted process (Ctrl-C) can remove them on its way out. */
const liveTemporaryFiles = new Set<string>();

/** Removes every temporary file or folder still being written (synchronous: for process exit handlers). */
export function removeTemporaryFiles(): void {
  for (const path of liveTemporaryFiles) rmSync(path, { recursive: true, force: true });
  liveTemporaryFiles.clear();
}

/** A temporary file or folder to remove if the process is interrupted (until `done` is called). */
export function trackTemporary(path: string): { done: () => void } {
  liveTemporaryFiles.add(path);
  return { done: () => liveTemporaryFiles.delete(path) };
}

/**
 * A file written under a temporary name in the same folder and renamed over
 * the final name only on commit, so an interrupted run never leaves a file
 * that looks complete. Names ending in `.gz` are gzip-compressed on the fly.
 */
export class AtomicFile {
  readonly path: string;
  readonly tempPath: string;
  private done = false;

  constructor(path: string) {
    this.path = path;
    // The pid in the name lets removeStaleTemporaryFiles tell a killed writer's file from a live one's.
    this.tempPath = join(
      dirname(path),
      `.${basename(path)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
    );
  }

  /** Writes everything the source yields, then renames into place. On any failure the temporary file is removed. */
  async write(source: AsyncIterable<string | Buffer>): Promise<void> {
    // 1 MiB of queue: at the default 16 KiB every 64 KiB chunk waited for its write.
    // Opened here, synchronously: an open still in flight when the process exits (Ctrl-C, a closed
    // stdout) would create the file after removeTemporaryFiles() looked for it.
    let fd: number;
    try {
      fd = openSync(this.tempPath, 'w');
    } catch (err) {
      throw wrapWriteError(this.path, err);
    }
    liveTemporaryFiles.add(this.tempPath);
    const file = createWriteStream(this.tempPath, { fd, highWaterMark: 1024 * 1024 });
    try {
      if (this.path.endsWith('.gz')) await pipeline(source, createGzip(), file);
      else await pipeline(source, file);
      await rename(this.tempPath, this.path);
      this.done = true;
    } catch (err) {
      // A stream destroyed while still opening creates its file afterwards:
      // wait for its close, or the temporary file can outlive the rm below.
      if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
      await this.abort();
      throw wrapWriteError(this.path, err);
    } finally {
      liveTemporaryFiles.delete(this.tempPath);
    }
  }

  async abort(): Promise<void> {
    if (!this.done) await rm(this.tempPath, { force: true });
  }
}

/**
 * Removes the temporary files AtomicFile (and PositionalFile) left in `dir`
 * when their process was killed outright; a live process's are kept.
 */
export async function removeStaleTemporaryFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const m = /^\..+\.tmp-(\d+)-[a-z0-9]+$/.exec(name);
    if (m && !alive(Number(m[1]))) await rm(join(dir, name), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Writes to stdout (`-`) or atomically to a file; stdout is never ended, so several writers can share it. */
export async function writeOutput(
  dest: string,
  /** Where `-` goes; the caller's (the CLI passes the process's), never taken from the process here. */
  stdout: Writable | undefined,
  source: AsyncIterable<string | Buffer>,
): Promise<void> {
  if (isS3Uri(dest)) {
    // A multipart upload is invisible until it completes, and aborted on failure: atomic too.
    // The callback pipeline destroys the gzip stream, and so fails the upload, if the source fails.
    const body = dest.endsWith('.gz')
      ? streamPipeline(Readable.from(source), createGzip(), () => {})
      : source;
    await writeS3(defaultS3Client(), dest, body as AsyncIterable<Buffer>);
    return;
  }
  if (dest === '-') {
    if (!stdout) throw new PbError('PB_USAGE', '- (stdout) is not an output here: give a file name');
    await pipeline(source, stdout, { end: false });
    return;
  }
  const target = await writeTarget(dest);
  if (target.inPlace) await writeInPlace(target.path, source);
  else await new AtomicFile(target.path).write(source);
}

/**
 * Where a local output really goes. A temporary file renamed over the name would replace a
 * device, a FIFO or a link (as root, `-o /dev/null` became a regular file): those are written in
 * place, and a link's target is what is replaced. A folder is refused with what to give instead.
 */
export async function writeTarget(path: string): Promise<{ path: string; inPlace: boolean }> {
  if (path === '') throw new PbError('PB_USAGE', 'the output is empty: give a file name, or - for stdout');
  let st: Stats;
  try {
    st = await lstat(path);
  } catch {
    return { path, inPlace: false };
  }
  if (st.isSymbolicLink()) {
    const real = await realpath(path).catch(() => undefined);
    if (real !== undefined) return writeTarget(real);
    // A dangling link: the file it names is created, and the link kept.
    return { path: resolve(dirname(path), await readlink(path)), inPlace: false };
  }
  if (st.isDirectory())
    throw new PbError('PB_USAGE', 'is a folder: give a file name inside it', { file: path });
  return { path, inPlace: !st.isFile() };
}

/**
 * Refuses, before any work, a local output whose folder is missing or that
 * is a folder: a step that writes only at its end (report) read a whole
 * input before saying so.
 */
export async function checkWritableLater(path: string): Promise<void> {
  if (path === '-' || isS3Uri(path)) return;
  await writeTarget(path);
  const dir = await stat(dirname(path)).catch(() => undefined);
  if (!dir?.isDirectory())
    throw new PbError('PB_IO', 'cannot write: the folder does not exist (create it first)', { file: path });
}

/** A file a command reads or writes, and the option that names it (for the messages); none: undefined. */
export type NamedPath = readonly [what: string, path: string | undefined];

/**
 * Refuses, before any work, what would lose a file or leave a half-done
 * pair: an output that is one of the inputs (renamed over it, the input
 * would be gone), or, written in parts (`parts`: --max-file-size), one of
 * whose parts OUT-NNNNN is; two outputs that are one file (the last
 * written would be all that is left); and, unless `folders` is false (a
 * run makes its own), a local output whose folder does not exist (said
 * after the export was written, its REMOVED or errors file was lost). `-`, s3:// and the same path given twice as an input pass.
 */
export async function checkOutputs(
  outputs: readonly NamedPath[],
  inputs: readonly NamedPath[],
  { parts = false, folders = true }: { parts?: boolean; folders?: boolean } = {},
): Promise<void> {
  const local = (p: string | undefined): p is string => p !== undefined && p !== '-' && !isS3Uri(p);
  const outs = outputs.filter((o): o is readonly [string, string] => local(o[1]));
  const ins: { what: string; path: string; st: Stats }[] = [];
  for (const [what, path] of inputs)
    if (local(path)) {
      const st = await stat(path).catch(() => undefined);
      if (st?.isFile()) ins.push({ what, path, st });
    }
  const seen = new Map<string, string>();
  for (const [what, path] of outs) {
    // A folder is the command's own to allow (parquet's --partition-by) or refuse.
    if ((await stat(path).catch(() => undefined))?.isDirectory()) continue;
    const target = (await writeTarget(path)).path;
    const key = resolve(target);
    const other = seen.get(key);
    if (other !== undefined)
      throw new PbError(
        'PB_USAGE',
        `is both ${other} and ${what}: one would replace the other; give each its own file`,
        { file: path },
      );
    seen.set(key, what);
    const dir = folders ? await stat(dirname(target)).catch(() => undefined) : undefined;
    if (folders && !dir?.isDirectory())
      throw new PbError('PB_IO', 'cannot write: the folder does not exist (create it first)', { file: path });
    const st = await stat(target).catch(() => undefined);
    for (const input of ins) {
      const same = st?.isFile() && st.dev === input.st.dev && st.ino === input.st.ino;
      if (same || (parts && isPartOf(target, input.path)))
        throw new PbError(
          'PB_USAGE',
          `${same ? 'is' : `is written in parts, and part ${input.path} is`} also an input (${input.what} ${input.path}): writing ${what} there would replace what is being read; give another file`,
          { file: path },
        );
    }
  }
}

/** Whether `file` is a part OUTPUT-NNNNN (partPath) of an output written in parts. */
function isPartOf(output: string, file: string): boolean {
  const zero = resolve(partPath(output, 0));
  const at = zero.lastIndexOf('-00000');
  const f = resolve(file);
  const head = zero.slice(0, at);
  const tail = zero.slice(at + 6);
  return (
    f.length > head.length + tail.length &&
    f.startsWith(head) &&
    f.endsWith(tail) &&
    /^-\d{5,}$/.test(f.slice(head.length, f.length - tail.length))
  );
}

/** Refuses an output that is one of the inputs: renamed over it, the input would be gone. */
export async function checkNotAnInput(output: string, inputs: readonly string[]): Promise<void> {
  if (output === '-' || isS3Uri(output)) return;
  const out = await stat(output).catch(() => undefined);
  if (!out?.isFile()) return;
  for (const input of inputs) {
    if (input === '-' || isS3Uri(input)) continue;
    const st = await stat(input).catch(() => undefined);
    if (st && st.dev === out.dev && st.ino === out.ino)
      throw new PbError(
        'PB_USAGE',
        `is also an input (${input}): writing it would replace what is being read; give another -o`,
        {
          file: output,
        },
      );
  }
}

/** Writes straight into a device or FIFO (nothing to make atomic there). */
async function writeInPlace(path: string, source: AsyncIterable<string | Buffer>): Promise<void> {
  try {
    const body = path.endsWith('.gz') ? Readable.from(source).pipe(createGzip()) : source;
    await pipeline(body, createWriteStream(path, { flags: 'w' }));
  } catch (err) {
    throw wrapWriteError(path, err);
  }
}

function wrapWriteError(path: string, err: unknown): unknown {
  if (err instanceof PbError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ENOENT')
    return new PbError(
      'PB_IO',
      'cannot write: the folder does not exist (create it first)',
      { file: path },
      { cause: err },
    );
  if (e.code === 'EACCES')
    return new PbError('PB_IO', 'cannot write: permission denied', { file: path }, { cause: err });
  if (e.code === 'ENOSPC')
    return new PbError('PB_IO', 'cannot write: no space left on the device', { file: path }, { cause: err });
  if (typeof e.code === 'string' && e.code.startsWith('E') && e.syscall) {
    return new PbError('PB_IO', `cannot write: ${e.message}`, { file: path }, { cause: err });
  }
  return err;
}

/**
 * Gathers small chunks (strings or Buffers) into Buffers of at least 64 KiB:
 * one write per line costs far more than the JSON work itself at millions of lines.
 */
export async function* batchLines(
  chunks: AsyncIterable<string | Buffer>,
  size = 64 * 1024,
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let total = 0;
  for await (const c of chunks) {
    const b = typeof c === 'string' ? Buffer.from(c) : c;
    if (b.length === 0) continue;
    parts.push(b);
    total += b.length;
    if (total >= size) {
      yield parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
      parts = [];
      total = 0;
    }
  }
  if (total > 0) yield parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, total);
}

/**
 * A local file written at explicit offsets, possibly by several threads
 * (export's workers write their outputs where the main thread tells them),
 * under a temporary name renamed over the final one on commit(), so a
 * failed run leaves nothing that looks complete. Plain local paths only
 * (writeOutput handles `-`, `.gz` and `s3://`).
 */
export class PositionalFile {
  private position = 0;

  private constructor(
    private readonly file: AtomicFile,
    private readonly handle: FileHandle,
  ) {}

  /** Call with a target writeTarget() found not in place (a device or FIFO cannot be written at offsets). */
  static async open(path: string): Promise<PositionalFile> {
    const file = new AtomicFile(path);
    try {
      liveTemporaryFiles.add(file.tempPath);
      return new PositionalFile(file, await open(file.tempPath, 'w'));
    } catch (err) {
      throw wrapWriteError(path, err);
    }
  }

  /** The descriptor, for writeSync(fd, buffer, offset, length, position) in another thread. */
  get fd(): number {
    return this.handle.fd;
  }

  get path(): string {
    return this.file.path;
  }

  /** Bytes reserved so far: the file's size once every reserved write is done. */
  get size(): number {
    return this.position;
  }

  /** Reserves the next n bytes of the file; returns where they start. */
  reserve(n: number): number {
    const at = this.position;
    this.position += n;
    return at;
  }

  /** Appends a buffer (at the next reserved place). */
  async append(buf: Buffer): Promise<void> {
    await this.writeAt(buf, this.reserve(buf.length));
  }

  /** Writes a buffer at a place reserve() gave. */
  async writeAt(buf: Buffer, at: number): Promise<void> {
    try {
      let off = 0;
      while (off < buf.length)
        off += (await this.handle.write(buf, off, buf.length - off, at + off)).bytesWritten;
    } catch (err) {
      throw wrapWriteError(this.file.path, err);
    }
  }

  /** A write failure reported by another thread, as the PbError this module gives. */
  failure(message: string): PbError {
    return new PbError('PB_IO', `cannot write: ${message}`, { file: this.file.path });
  }

  async commit(): Promise<void> {
    try {
      await this.handle.close();
      await rename(this.file.tempPath, this.file.path);
    } catch (err) {
      await rm(this.file.tempPath, { force: true });
      throw wrapWriteError(this.file.path, err);
    } finally {
      liveTemporaryFiles.delete(this.file.tempPath);
    }
  }

  /** Closes and removes the temporary file (call only once no thread writes to it any more). */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => {});
    await rm(this.file.tempPath, { force: true });
    liveTemporaryFiles.delete(this.file.tempPath);
  }
}

/**
 * mkdtemp in `parent` (--tmp-dir, or the OS temp folder), its failure said as a user's mistake: a
 * --tmp-dir typo is no internal error.
 */
export async function makeTempDir(parent: string, prefix: string): Promise<string> {
  try {
    return await mkdtemp(join(parent, prefix));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason =
      e.code === 'ENOENT'
        ? 'no such folder'
        : e.code === 'ENOTDIR'
          ? 'not a folder'
          : e.code === 'EACCES'
            ? 'permission denied'
            : e.message;
    throw new PbError(
      'PB_IO',
      `cannot make a temporary folder here (--tmp-dir): ${reason}`,
      { file: parent },
      { cause: err },
    );
  }
}
