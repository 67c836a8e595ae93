import { Duplex, Readable } from 'node:stream';
import { prepareChunks } from './chunks.js';
import type { PrepareOptions } from './options.js';
import type { PrepareSummary } from './summary.js';

/**
 * prepare() as a Duplex: write the bytes of one source (any supported
 * format, gzip or not), read batch-input JSON Lines. `summary` resolves when
 * the readable side ends.
 */
export function createPrepareStream(
  options: Omit<PrepareOptions, 'sources' | 'stdin' | 'output' | 'stdout'>,
): Duplex & { summary: Promise<PrepareSummary> } {
  let resolveSummary: (s: PrepareSummary) => void = () => {};
  let rejectSummary: (e: unknown) => void = () => {};
  const summary = new Promise<PrepareSummary>((res, rej) => {
    resolveSummary = res;
    rejectSummary = rej;
  });
  summary.catch(() => {});
  const duplex = Duplex.from(async function* (source: AsyncIterable<Buffer>) {
    const gen = prepareChunks({ ...options, sources: ['-'], stdin: Readable.from(source) });
    try {
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          resolveSummary(r.value);
          return;
        }
        yield r.value;
      }
    } catch (err) {
      rejectSummary(err);
      throw err;
    }
  });
  return Object.assign(duplex, { summary });
}
