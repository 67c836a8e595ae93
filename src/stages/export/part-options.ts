import { parsePartSpec } from '../../core/part-split.js';
import { usage } from '../../errors.js';

/** `export --part`'s option (see part.ts for the split). */
export interface PartOptions {
  /**
   * Export only the K-th of N slices of the sources (`"3/7"` or `{ k: 3, n: 7 }`, 1 <= K <= N), so
   * N workers write N part files that `export --concat` joins. Default: everything.
   */
  part?: string | { k: number; n: number };
}

/** The part asked for, checked against what cannot be sliced; undefined for a whole export. */
export function resolvePart(
  o: PartOptions & {
    sources?: string[];
    format?: string;
    top?: number;
    since?: string;
    mapUsers?: string;
    partitionBy?: Record<string, string>;
  },
): { k: number; n: number } | undefined {
  if (o.part === undefined) return undefined;
  const spec = typeof o.part === 'string' ? parsePartSpec(o.part) : parsePartSpec(`${o.part.k}/${o.part.n}`);
  if (!spec)
    throw usage(
      `--part must be K/N with 1 <= K <= N (e.g. 3/7: the third of seven slices), got "${typeof o.part === 'string' ? o.part : `${o.part.k}/${o.part.n}`}"`,
    );
  if (o.sources?.includes('-'))
    throw usage('--part slices files by their sizes and byte offsets, and stdin (-) has neither: give files');
  if (o.format === 'csv-wide' && o.top === undefined)
    throw usage(
      "--part with csv-wide needs --top N: every part must write the same item_1..N columns, and a part sees only its own lines; give the width (e.g. --top 25, the job's numResults)",
    );
  // Every worker would write OUT/KEY=VALUE/part-00000.parquet, over one another's.
  if (o.partitionBy !== undefined && Object.keys(o.partitionBy).length > 0)
    throw usage(
      "--part with --partition-by: every part would write the same part-00000.parquet in the same folder; name the Hive folder in each part's own -o instead (-o s3://lake/recs/run_date=2026-12-06/part-00003.parquet)",
    );
  if (o.since !== undefined)
    throw usage('--part does not take --since: export the delta in one process (--since compares every key)');
  if (o.mapUsers !== undefined)
    throw usage('--part does not take --map-users: it joins every user to every list; run it in one process');
  return spec;
}
