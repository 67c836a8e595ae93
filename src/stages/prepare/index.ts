import { usage } from '../../errors.js';
import { withCall } from '../../io/clients.js';
import { writeOutput } from '../../io/output.js';
import { shard } from '../shard/index.js';
import { prepareChunks } from './chunks.js';
import type { PrepareOptions } from './options.js';
import type { PrepareSummary } from './summary.js';

export { prepareChunks } from './chunks.js';
export {
  type OnInvalid,
  PREPARE_DEFAULTS,
  type PrepareOptions,
  type PrepareProgress,
  parseFilterSpec,
  type ResolvedPrepareOptions,
  resolvePrepareOptions,
} from './options.js';
export { checkSources } from './preflight.js';
export { serializeRecord } from './record-pass.js';
export {
  type PrepareEvent,
  type PrepareRecordsOptions,
  prepareRecords,
  type RecordSource,
} from './records.js';
export type { Reject } from './rejects.js';
export { createPrepareStream, type PrepareStreamOptions } from './stream.js';
export type { InputDetection, PrepareSummary } from './summary.js';

/**
 * Turns sources into batch-input JSON Lines: parse, build, validate,
 * dedupe (or group, for ranking from rows), write. Memory: the dedupe budget
 * plus one CSV record and ~1 MiB of stream buffers, whatever the input size.
 */
export function prepare(options: PrepareOptions): Promise<PrepareSummary> {
  return withCall(options, () => prepareNow(options));
}

async function prepareNow(options: PrepareOptions): Promise<PrepareSummary> {
  let summary: PrepareSummary | undefined;
  if (options.shardOut !== undefined && options.output !== undefined && options.output !== '-') {
    throw usage('give -o OUT or --shard-out DIR, not both');
  }
  const gen = prepareChunks(options);
  async function* body(): AsyncGenerator<Buffer> {
    try {
      for (;;) {
        const r = await gen.next();
        if (r.done) {
          summary = r.value;
          return;
        }
        yield r.value;
      }
    } finally {
      // A writer that stops early (a failure, an abort) closes the pass too: its rejects file and
      // spill folder are settled before prepare returns, not left open.
      await gen.return(undefined as never);
    }
  }
  if (options.shardOut !== undefined) {
    const sharded = await shard({
      recipe: options.recipe,
      input: '(prepare output)',
      source: body(),
      out: options.shardOut,
      maxBytes: options.shardMaxBytes,
      maxRecords: options.shardMaxRecords,
      maxRecordsPerFile: options.shardMaxRecordsPerFile,
      maxFilesPerShard: options.shardMaxFilesPerShard,
      shards: options.shards,
      force: options.force,
    });
    const s = summary as PrepareSummary;
    s.shard = sharded;
    // Sharding makes the per-file quota warnings moot.
    s.warnings = s.warnings.filter((w) => !w.includes('personalize-batch shard'));
    return s;
  }
  await writeOutput(options.output ?? '-', options.stdout, body());
  return summary as PrepareSummary;
}
