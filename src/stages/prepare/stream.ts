import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { withCall } from '../../io/clients.js';
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
  // The call's `s3` (settings or a client) for s3:// rejects, as prepare() has it.
  return new RunDuplex<PrepareSummary>(
    ({ stdin, stdout }) =>
      withCall({ s3: rest.s3 }, async () => {
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
      }),
    signal,
  );
}
