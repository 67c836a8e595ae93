import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { RunDuplex } from '../../io/run-duplex.js';
import { prepareChunks } from './chunks.js';
import type { PrepareOptions } from './options.js';
import type { PrepareEvent } from './records.js';
import type { PrepareSummary } from './summary.js';

export type PrepareStreamOptions = Omit<PrepareOptions, 'sources' | 'stdin' | 'output' | 'stdout'> & {
  /** Aborting destroys the stream with an AbortError, after the spill folder is removed. */
  signal?: AbortSignal;
  onEvent?: (e: PrepareEvent) => void;
};

/**
 * prepare() as a Duplex: write the bytes of one source (any supported
 * format, gzip or not), read batch-input JSON Lines. `summary` resolves when
 * the readable side ends.
 */
export function createPrepareStream(
  options: PrepareStreamOptions,
): Duplex & { summary: Promise<PrepareSummary> } {
  const { signal, onEvent, ...rest } = options;
  const onProgress = onEvent
    ? (p: Omit<PrepareEvent, 'type'>) => {
        rest.onProgress?.(p);
        onEvent({ type: 'progress', ...p });
      }
    : rest.onProgress;
  return new RunDuplex<PrepareSummary>(async ({ stdin, stdout }) => {
    const gen = prepareChunks({ ...rest, onProgress, sources: ['-'], stdin });
    try {
      for (;;) {
        const r = await gen.next();
        if (r.done) return r.value;
        if (stdout.destroyed) throw stdout.errored ?? new Error('the output was closed');
        if (!stdout.write(r.value)) await once(stdout, 'drain');
      }
    } finally {
      // Stopped at a yield (the output failed): its finally removes the spill folder, awaited here.
      await gen.return(undefined as never).catch(() => {});
    }
  }, signal);
}
