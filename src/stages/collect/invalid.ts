import type { Writable } from 'node:stream';
import { PbError } from '../../errors.js';
import { SideFile } from '../export/index.js';

/** Malformed output lines: `fail` stops at the first; `skip` writes each to the rejects file and counts it. */
export class InvalidLines {
  /** Lines skipped. */
  count = 0;
  private readonly rejects: SideFile | undefined;

  constructor(
    private readonly onInvalid: 'fail' | 'skip',
    rejects: string | undefined,
    stdout: Writable | undefined,
  ) {
    this.rejects = rejects ? new SideFile(rejects, stdout) : undefined;
  }

  async report(file: string, line: number, reason: string, text: string): Promise<void> {
    if (this.onInvalid === 'fail') {
      const parse = /^(not valid JSON|truncated|line longer|a JSON value longer)/.test(reason);
      throw new PbError(parse ? 'PB_PARSE' : 'PB_INVALID_RECORD', reason, { file, line });
    }
    this.count++;
    await this.rejects?.write(Buffer.from(`${JSON.stringify({ file, line, reason, text })}\n`));
  }

  /** Commits the rejects file (if any line was skipped). */
  async close(): Promise<void> {
    await this.rejects?.close();
  }
}
