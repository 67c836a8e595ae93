import { rm, stat } from 'node:fs/promises';
import { partPath } from '../../core/email-files.js';
import { PbError } from '../../errors.js';
import { PositionalFile } from '../../io/output.js';

/**
 * Where a local export's bytes go at offsets: one file, or numbered parts
 * under --max-file-size. Each output of a piece is placed whole, so a
 * part ends between pieces of whole lines (one key's rows never straddle
 * two files). Every file is written under a temporary name and renamed
 * only when the export has succeeded; a failure removes them all.
 */
export interface OutputFiles {
  /** Takes the header (BOM included) to start every part with; false: write it as bytes. */
  takesHeader(head: Buffer): boolean;
  /** The file and offset for the next n bytes. */
  place(n: number): Promise<{ file: PositionalFile; at: number }>;
  /** Renames every file into place; returns their names. */
  commit(): Promise<string[]>;
  abort(): Promise<void>;
}

export class OneFile implements OutputFiles {
  private constructor(private readonly file: PositionalFile) {}

  static async open(path: string): Promise<OneFile> {
    return new OneFile(await PositionalFile.open(path));
  }

  takesHeader(): boolean {
    return false;
  }

  async place(n: number): Promise<{ file: PositionalFile; at: number }> {
    return { file: this.file, at: this.file.reserve(n) };
  }

  async commit(): Promise<string[]> {
    await this.file.commit();
    return [this.file.path];
  }

  abort(): Promise<void> {
    return this.file.abort();
  }
}

export class PartFiles implements OutputFiles {
  private readonly parts: PositionalFile[] = [];
  private head: Buffer = Buffer.alloc(0);
  /** Header bytes written beyond the first part's. */
  extraHeaderBytes = 0;

  constructor(
    private readonly output: string,
    private readonly limit: number,
  ) {}

  takesHeader(head: Buffer): boolean {
    this.head = head;
    return true;
  }

  async place(n: number): Promise<{ file: PositionalFile; at: number }> {
    let file = this.parts[this.parts.length - 1];
    if (!file || file.size + n > this.limit) {
      if (file && file.size === this.head.length) this.tooBig(n);
      file = await this.open();
      if (file.size + n > this.limit) this.tooBig(n);
    }
    return { file, at: file.reserve(n) };
  }

  private tooBig(n: number): never {
    throw new PbError(
      'PB_LIMIT',
      `the rows of one piece of input lines (about 1 MiB of them) take ${n} bytes${this.head.length > 0 ? ` (${this.head.length} more with the header)` : ''}, more than --max-file-size ${this.limit} allows in one part: give a larger size, more than ${Math.ceil((n + this.head.length) / 1e5) / 10}MB (this piece's rows; other pieces' may take more, so leave room: parts are cut between pieces, so that one key's rows stay in one file)`,
      { file: this.output },
    );
  }

  private async open(): Promise<PositionalFile> {
    const file = await PositionalFile.open(partPath(this.output, this.parts.length + 1));
    this.parts.push(file);
    if (this.head.length > 0) {
      if (this.parts.length > 1) this.extraHeaderBytes += this.head.length;
      await file.append(this.head);
    }
    return file;
  }

  async commit(): Promise<string[]> {
    // An export with no rows still has its (header-only) file.
    if (this.parts.length === 0) await this.open();
    let done = 0;
    try {
      for (const p of this.parts) {
        await p.commit();
        done++;
      }
    } catch (err) {
      // All or none: the parts renamed already go too, and those not reached.
      for (const p of this.parts.slice(0, done)) await rm(p.path, { force: true });
      for (const p of this.parts.slice(done + 1)) await p.abort();
      throw err;
    }
    return this.parts.map((p) => p.path);
  }

  async abort(): Promise<void> {
    for (const p of this.parts) await p.abort();
  }

  /**
   * The parts after the last one written that an earlier, longer export to
   * the same name left, removed: the parts are one output, replaced whole
   * as a single file is (left there, a later `--since` read them as PREV's
   * and an upload of the folder sent them); returns their names.
   */
  async removeLeftOver(): Promise<string[]> {
    const gone: string[] = [];
    for (let n = this.parts.length + 1; ; n++) {
      const next = partPath(this.output, n);
      const st = await stat(next).catch(() => undefined);
      if (!st?.isFile()) return gone;
      await rm(next, { force: true });
      gone.push(next);
    }
  }
}
