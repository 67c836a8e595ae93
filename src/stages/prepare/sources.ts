import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { makeRowBuilder, type RowBuilder } from '../../core/build.js';
import { docKindOfKeys, wrongKind } from '../../core/doc-kind.js';
import { type CompiledWhere, compileWhere } from '../../core/where-match.js';
import { findCut, SPLIT_MIN_BYTES, type SplitPlan, splittableSize } from '../../io/fast-parallel.js';
import { type FastPlan, fastLines, fastPathApplies } from '../../io/fastpath.js';
import { type RowSource, readRows } from '../../io/rows.js';
import type { SpillDir } from '../../io/spill.js';
import type { TextInfo } from '../../io/text.js';
import { openText } from '../../io/text.js';
import type { ResolvedPrepareOptions } from './options.js';
import type { RecordPass } from './record-pass.js';
import { noteInput } from './summary.js';

/**
 * One source through the pass: opened, read as rows (or as bytes, on the fast path), its
 * batch-input lines yielded as they come.
 */
export async function* sourceLines(
  pass: RecordPass,
  name: string,
  opts: ResolvedPrepareOptions,
  stdin: Readable | undefined,
  split?: SplitSettings,
): AsyncGenerator<string | Buffer> {
  const s = pass.s;
  const bytesBefore = s.bytesRead;
  const text = await openText(
    name,
    { stdin },
    {
      encoding: opts.encoding,
      names: opts.names,
      onBytes: (n) => {
        s.bytesRead += n;
      },
    },
  );
  const src = await readRows(name, text.bytes, rowsOptions(opts));
  if (src.empty) {
    // Nothing to read a column from: no format or column can be wrong, and no record comes of it.
    s.warnings.push(`${name}: empty: no record`);
    await src.close();
    return;
  }
  try {
    checkSourceKind(src, name);
  } catch (err) {
    await src.close();
    throw err;
  }
  const { build, legacyOk, where } = builderFor(src, name, opts);
  src.keepFields(Math.max(build.fieldsNeeded, where?.fieldsNeeded ?? 0));
  noteInput(s, src, text.info, build);
  for (const w of [...src.warnings, ...(where?.warnings ?? [])]) s.warnings.push(`${name}: ${w}`);
  const fast = fastPlan(opts, src, build);
  if (fast) {
    const two = split && (await splitPlan(name, text.info, pass, split, src.rawFrom));
    for await (const chunk of fastLines(
      src.raw,
      fast,
      pass.dedupe,
      s,
      (rows) => pass.processRows(rows, src, build, false),
      two,
      () => src.close(),
    )) {
      pass.showProgress();
      yield chunk;
    }
    // The first part's stream read ahead past the cut, and the worker's part was never counted.
    if (two) s.bytesRead = bytesBefore + two.size;
    return;
  }
  for await (const batch of src.batches) {
    s.recordsRead += batch.length;
    const chunk = await pass.processRows(batch, src, build, legacyOk, where?.test);
    pass.showProgress();
    if (chunk !== '') yield chunk;
  }
  for (const w of where?.afterRows() ?? []) s.warnings.push(`${name}: ${w}`);
  s.blankLines += src.blankLines();
}

/** The byte fast path serves one plain id column with no filters, row filter, time window or grouping. */
function fastPlan(opts: ResolvedPrepareOptions, src: RowSource, build: RowBuilder): FastPlan | undefined {
  const b = opts.build;
  if (!fastPathApplies(src) || opts.where !== undefined) return undefined;
  if (b.filters.length > 0 || b.since !== undefined || build.keyColumn === undefined) return undefined;
  if (opts.family.key !== 'userId' && opts.family.key !== 'itemId') return undefined;
  if (opts.family.family === 'personalized-ranking') return undefined;
  return {
    src,
    column: build.keyColumn,
    field: opts.family.key,
    maxLineLength: opts.maxLineLength,
    allowEmailIds: opts.policy.allowEmailIds === true,
    names: opts.names,
  };
}

/** When the fast path may scan a file on two threads (fast-parallel.ts). */
export interface SplitSettings {
  spill: SpillDir;
  /** Files from this size (default 32 MiB; tests set 0). */
  minBytes?: number;
  /** Where to cut, as a fraction of the file (default a half; tests vary it). */
  at?: number;
}

/**
 * Two threads for a local UTF-8 file, read as it is (no gzip, no other encoding), of at least
 * `minBytes`, whose records all go to the dedupe's partitions; undefined otherwise.
 */
async function splitPlan(
  name: string,
  info: TextInfo,
  pass: RecordPass,
  o: SplitSettings,
  from: number,
): Promise<SplitPlan | undefined> {
  if (!pass.dedupe?.diskOnly) return undefined;
  const size = await splittableSize(name, info);
  if (size === undefined || size < (o.minBytes ?? SPLIT_MIN_BYTES) || size < 2) return undefined;
  const cut = findCut(name, size, o.at ?? 0.5);
  return cut > from ? { path: name, from, size, cut, spill: o.spill } : undefined;
}

/** How readRows reads a source, the same for checkSources and the run itself. */
export function rowsOptions(opts: ResolvedPrepareOptions): Parameters<typeof readRows>[2] {
  return {
    format: opts.format,
    maxLineLength: opts.maxLineLength,
    delimiter: opts.delimiter,
    column: opts.build.column,
    skipLines: opts.skipLines,
    header: opts.header,
    names: opts.names,
  };
}

/** Read by content: a manifest or an .out file (on stdin, or named .jsonl) is not a list to prepare. */
export function checkSourceKind(src: Pick<RowSource, 'keyed' | 'header'>, name: string): void {
  if (!src.keyed || !src.header) return;
  const wrong = wrongKind(docKindOfKeys(src.header), 'prepare-source', name);
  if (wrong) throw wrong;
}

/**
 * The source's row builder and --where test, resolved against its columns; Popularity-Count
 * lines as an older AWS example wrote them ({} and {"itemId": ...}) are legacyOk.
 */
export function builderFor(
  src: Pick<RowSource, 'keyed' | 'header'>,
  name: string,
  opts: ResolvedPrepareOptions,
): { build: ReturnType<typeof makeRowBuilder>; legacyOk: boolean; where: CompiledWhere | undefined } {
  const legacyOk =
    opts.family.family === 'popular-items' &&
    src.keyed &&
    opts.build.column === undefined &&
    (src.header ?? []).every((k) => k === 'itemId');
  const build = makeRowBuilder(
    src.header,
    src.keyed,
    name,
    legacyOk ? { ...opts.build, column: 'userId' } : opts.build,
  );
  // After the builder, so that a wrong id column is the first problem reported, as without --where.
  const n = opts.names;
  const asColumns = `${n.format} csv, ${n.noHeader} and ${n.column} 1`;
  const where = opts.where && compileWhere(opts.where, src.header, src.keyed, name, asColumns);
  return { build, legacyOk, where };
}

/** Inputs over this many times the dedupe budget go straight to the spill partitions (see Deduper). */
export const SPILL_FIRST_FACTOR = 4;

/** Whether the sources are all files whose sizes add up to more than `bytes`. */
export async function knownLarger(sources: readonly string[], bytes: number): Promise<boolean> {
  let total = 0;
  for (const name of sources) {
    if (name === '-') return false;
    try {
      const st = await stat(name);
      if (!st.isFile()) return false;
      total += st.size;
    } catch {
      return false; // reading it will report the problem
    }
  }
  return total > bytes;
}
