import type { Duplex } from 'node:stream';
import { usage } from '../../errors.js';
import { RunDuplex } from '../../io/run-duplex.js';
import { exportOutputs } from './index.js';
import type { ExportOptions } from './options.js';
import type { ExportSummary } from './summary.js';

export type ExportStreamOptions = Omit<
  ExportOptions,
  'sources' | 'output' | 'stdin' | 'stdout' | 'maxFileSize' | 'since' | 'mapUsers'
> & {
  /** Aborting destroys the stream with an AbortError, after a csv-wide spool file is removed. */
  signal?: AbortSignal;
};

export type { ExportEvent } from './options.js';

/**
 * exportOutputs() as a Duplex: write `.out` bytes (gzip or not), read
 * csv-long, csv-wide or jsonl bytes, the same bytes exportOutputs writes to
 * stdout. csv-wide without `top` needs the widest line before the first row:
 * the input is spooled to a temporary file in `tmpDir` and read twice (the
 * file is removed at the end, on error and on abort); with `top` it is one
 * pass. Error lines go to `errors` (default `errors.jsonl`, as for stdout:
 * one already there is replaced only by error lines, with a warning).
 */
export function createExportStream(
  options: ExportStreamOptions = {},
): Duplex & { summary: Promise<ExportSummary> } {
  const { signal, ...rest } = options;
  for (const key of ['sources', 'output', 'stdin', 'stdout', 'maxFileSize', 'since', 'mapUsers'] as const) {
    if ((options as ExportOptions)[key] !== undefined)
      throw usage(
        `createExportStream takes no ${key}: it reads what is written to it and writes what is read`,
      );
  }
  if (rest.errors === '-' || rest.rejects === '-')
    throw usage('createExportStream: errors and rejects need a file here, as - would be the stream itself');
  return new RunDuplex<ExportSummary>(
    ({ stdin, stdout }) => exportOutputs({ ...rest, sources: ['-'], output: '-', stdin, stdout }),
    signal,
  );
}
