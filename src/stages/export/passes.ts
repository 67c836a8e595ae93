import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { makeTempDir } from '../../io/output.js';
import { type ExportRun, type PassPlan, Restart } from './export-run.js';
import type { ExportOptions, ResolvedExportOptions } from './options.js';
import { SideFile } from './side-file.js';
import type { OutSplit } from './users-spill.js';

/**
 * Runs the passes an export needs and returns how many it took: one, or for
 * csv-wide without --top a measuring pass first (to stdout) or after a
 * guess proved wrong. Stdin is spooled to disk so that it can be read again.
 */
export async function runPasses(
  run: ExportRun,
  o: ResolvedExportOptions,
  options: ExportOptions,
  sources: string[],
  /** A partitioned users join: its first layout (from the lines as given) and the invalid lines it settled. */
  split?: Pick<OutSplit, 'first' | 'rejects'>,
): Promise<number> {
  let spoolDir: string | undefined;
  let rejects: SideFile | undefined;
  try {
    let readFrom = sources;
    const guessWidth = o.format === 'csv-wide' && o.top === 0;
    if (guessWidth && sources.includes('-')) {
      spoolDir = await makeTempDir(o.tmpDir, 'personalize-batch-export-');
      const spooled = join(spoolDir, 'stdin');
      // resolveExportOptions made sure that a `-` source comes with its stdin.
      await pipeline(options.stdin as Readable, createWriteStream(spooled));
      readFrom = sources.map((s) => (s === '-' ? spooled : s));
    }
    let passes = 1;
    // The partitions' first line is not the input's: the layout comes from the input's first lines.
    const first = split?.first;
    let plan: PassPlan = {
      layout: first?.layout,
      width: first && guessWidth ? Math.max(1, first.width) : o.top,
      // Bytes sent to stdout cannot be taken back: there the width is measured first.
      optimistic: guessWidth && o.output !== '-',
    };
    if (guessWidth && o.output === '-') {
      const measured = await run.measure(readFrom);
      plan = { layout: measured.layout, width: Math.max(1, measured.maxWidth), optimistic: false };
      passes = 2;
    }
    for (;;) {
      rejects = o.rejects ? new SideFile(o.rejects, options.stdout) : undefined;
      const errors = new SideFile(o.errors, options.stdout);
      try {
        if (rejects && split?.rejects)
          for await (const chunk of createReadStream(split.rejects)) await rejects.write(chunk as Buffer);
        await run.write(readFrom, plan, errors, rejects);
        await errors.close();
        return passes;
      } catch (err) {
        await errors.abort();
        if (!(err instanceof Restart)) throw err;
        // Only the invalid lines of the pass that counts are kept.
        await rejects?.abort();
        rejects = undefined;
        const measured = await run.measure(readFrom);
        plan = { layout: measured.layout, width: Math.max(1, measured.maxWidth), optimistic: false };
        passes = 3;
      }
    }
  } finally {
    await rejects?.close();
    if (spoolDir) await rm(spoolDir, { recursive: true, force: true });
  }
}
