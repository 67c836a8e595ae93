import type { Writable } from 'node:stream';
import { noStream, usage } from '../../errors.js';
import { Deduper, Grouper } from '../../io/dedupe.js';
import { expandBatchInputs } from '../../io/doc-kind.js';
import { batchLines, checkOutputs, type NamedPath } from '../../io/output.js';
import { SpillDir } from '../../io/spill.js';
import {
  type PrepareOptions,
  type PrepareProgress,
  type ResolvedPrepareOptions,
  resolvePrepareOptions,
} from './options.js';
import { RecordPass } from './record-pass.js';
import { RejectWriter } from './rejects.js';
import { knownLarger, SPILL_FIRST_FACTOR, sourceLines } from './sources.js';
import { emptySummary, type PrepareSummary, warnOnTotals } from './summary.js';

/**
 * The same work as prepare() without the output: yields batch-input JSON
 * Lines in chunks and returns the summary. Rejects (with `onInvalid: 'skip'`)
 * still go to `options.rejects`.
 */
export async function* prepareChunks(options: PrepareOptions): AsyncGenerator<Buffer, PrepareSummary> {
  const opts = resolvePrepareOptions(options);
  const started = performance.now();
  const s = emptySummary(opts);
  if (opts.sources.filter((x) => x === '-').length > 1) throw usage('stdin (-) can be given only once');
  if (opts.sources.includes('-') && options.stdin === undefined) throw noStream('prepare', 'stdin');
  // s3://bucket/prefix/ stands for every object under it, each a source of its own (own header).
  opts.sources = await expandBatchInputs(opts.sources, { manifests: 'refuse', want: 'prepare-source' });
  await checkOutputs(
    [
      ['the output', opts.output],
      ['the rejects file', opts.rejects],
    ],
    opts.sources.map((f): NamedPath => ['a source', f]),
  );
  s.sources = opts.sources.length;
  const { onProgress, onEvent } = options;
  const parts = openPass(opts, s, {
    stdout: options.stdout,
    spillFirst: await knownLarger(opts.sources, SPILL_FIRST_FACTOR * opts.memoryBudget),
    parallelDrainMinBytes: options.parallelDrainMinBytes,
    progress:
      onProgress || onEvent
        ? (p: PrepareProgress) => {
            onProgress?.(p);
            onEvent?.({ type: 'progress', ...p });
          }
        : undefined,
  });
  const { pass } = parts;
  async function* lines(): AsyncGenerator<string | Buffer> {
    const split = {
      spill: parts.spill,
      minBytes: options.parallelScanMinBytes,
      at: options.parallelScanAt,
    };
    for (const name of opts.sources) yield* sourceLines(pass, name, opts, options.stdin, split);
    yield* pass.drain();
  }

  try {
    for await (const chunk of batchLines(lines())) {
      s.bytesWritten += chunk.length;
      yield chunk;
    }
  } finally {
    await closePass(parts);
  }
  return finishSummary(s, opts, parts, started);
}

/** What records pass through in a prepare run: its spill folder, rejects, dedupe, ranking groups, the pass. */
export interface PassParts {
  spill: SpillDir;
  rejects: RejectWriter | undefined;
  dedupe: Deduper | undefined;
  grouper: Grouper | undefined;
  pass: RecordPass;
}

/** The parts of a pass, for prepare (files) and prepareRecords (values) alike. */
export function openPass(
  opts: ResolvedPrepareOptions,
  s: PrepareSummary,
  o: {
    /** Where rejects `-` go. */
    stdout?: Writable;
    /** The dedupe spills from the start (the input is known to be past the budget). */
    spillFirst: boolean;
    parallelDrainMinBytes?: number;
    progress?: (p: PrepareProgress) => void;
  },
): PassParts {
  const spill = new SpillDir(opts.tmpDir);
  const rejects = opts.rejects ? new RejectWriter(opts.rejects, o.stdout) : undefined;
  const dedupe = opts.dedupe
    ? new Deduper(spill, opts.memoryBudget, o.spillFirst, o.parallelDrainMinBytes)
    : undefined;
  const grouper =
    opts.family.family === 'personalized-ranking' ? new Grouper(spill, opts.memoryBudget) : undefined;
  return {
    spill,
    rejects,
    dedupe,
    grouper,
    pass: new RecordPass(opts, s, rejects, dedupe, grouper, o.progress),
  };
}

/**
 * Closes a pass's files whatever happened. Rejected records are data the
 * user must not lose: they are kept even when the run stops early or fails.
 */
export async function closePass(parts: PassParts): Promise<void> {
  await parts.rejects?.close();
  await parts.spill.dispose();
}

/** The summary's last figures (duplicates, spill, time) and the warnings its totals call for. */
export function finishSummary(
  s: PrepareSummary,
  opts: ResolvedPrepareOptions,
  { dedupe, grouper, pass }: PassParts,
  started: number,
): PrepareSummary {
  s.duplicates = (dedupe?.duplicates ?? 0) + (grouper?.duplicates ?? 0);
  s.spilled = Boolean(dedupe?.spilled || grouper?.spilled);
  s.seconds = (performance.now() - started) / 1000;
  warnOnTotals(s, opts, pass.legacy);
  return s;
}
