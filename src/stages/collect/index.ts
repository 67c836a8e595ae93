import { withCall } from '../../io/clients.js';
import { SpillDir } from '../../io/spill.js';
import { decideKeys } from './decide.js';
import { CollectProgress } from './events.js';
import { InvalidLines } from './invalid.js';
import { partitionKeys } from './keys.js';
import { besideOutput, type CollectOptions, resolveCollectOptions } from './options.js';
import { expandSources, listSources, StdinSpool } from './sources.js';
import { addWarnings, type CollectSummary, emptySummary } from './summary.js';
import { writeDecided } from './write.js';

export type { CollectEvent, CollectStep } from './events.js';
export { besideOutput, COLLECT_DEFAULTS, type CollectOptions } from './options.js';
export type { CollectSummary } from './summary.js';

/**
 * Merges shard outputs into one JSON Lines stream and reconciles it with the
 * batch input, in bounded memory for any number of keys:
 *
 * 1. Every output line (then every input line) is numbered and its key
 *    written, with the line's number and type, to hash partitions on disk.
 * 2. Each partition is loaded alone (a ByteIndex of its keys) and decides per
 *    key: its first successful line is kept; other successful lines are
 *    duplicates; error lines count only for keys with no success; an input
 *    key with no line at all is missing. Decisions are bits by line number.
 *    A line without a key (an error line echoing a number id or an input
 *    without the key; an empty input) never reaches a partition: it is kept
 *    in step 1, as nothing can deduplicate it or match it to an input.
 * 3. The sources are read again: kept lines go to the output, kept error
 *    lines to errors.jsonl, missing input lines (byte for byte) to missing.jsonl.
 *
 * Memory: one partition's keys (the budget), plus two bits per output line
 * and one per input line (50 million of each: about 19 MB). Disk: about
 * 10 bytes per line plus the key in the partitions (1.9 GB measured for
 * 50 million 9-character keys, benchmarks/collect.bench.mjs). Every source is read twice (stdin is
 * spooled to disk first); a source that changes in between is an error.
 */
export function collect(options: CollectOptions): Promise<CollectSummary> {
  return withCall(options, () => collectNow(options));
}

async function collectNow(options: CollectOptions): Promise<CollectSummary> {
  const started = process.hrtime.bigint();
  const o = resolveCollectOptions(options);
  const given = await listSources(o);
  const spill = new SpillDir(o.tmpDir);
  const spool = new StdinSpool(o.tmpDir, o.stdin);
  const missingPath = given.inputs.length > 0 ? (o.missing ?? besideOutput(o.output, 'missing.jsonl')) : null;
  const errorsPath = o.errors ?? besideOutput(o.output, 'errors.jsonl');
  const invalid = new InvalidLines(o.onInvalid, o.rejects, o.stdout);
  const s = emptySummary(o.output, missingPath, errorsPath);
  let errorsWithoutKey = 0;
  let hasInput = false;
  const progress = new CollectProgress(options.onEvent);
  try {
    const files = await expandSources(given, spool);
    s.sources = files.sources.length;
    s.inputFiles = files.inputs.length;
    hasInput = files.inputs.length > 0;
    progress.step('keys');
    const keyed = await partitionKeys(files, spill, o, invalid, s, progress);
    errorsWithoutKey = keyed.errorsWithoutKey;
    progress.step('decide');
    const decided = await decideKeys(spill, keyed, hasInput, o.memoryBudget, s, progress);
    progress.step('write');
    await writeDecided(files, keyed, decided, o, s, progress);
    progress.end();
  } finally {
    await invalid.close();
    await spill.dispose();
    await spool.dispose();
  }
  addWarnings(s, errorsWithoutKey, hasInput);
  s.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return s;
}
