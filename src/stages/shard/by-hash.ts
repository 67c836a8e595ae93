import { type CutResult, HashCut, type HashHistogram } from '../../core/hashcut.js';
import { PbError } from '../../errors.js';
import { type ShardInfo, shardName } from './manifest.js';
import type { ShardFile } from './shard-file.js';

/**
 * Hash mode: chunks are cut by HashCut (src/core/hashcut.ts) and written
 * shard by shard in input order, so a run's shard files are the same bytes
 * every time. Two worker threads cutting alternate chunks were tried: on
 * this 2-vCPU machine they gained nothing measurable over the main thread
 * and cost 140 MB more memory.
 */
export async function hashShard(
  lines: AsyncIterable<Buffer>,
  files: ShardFile[],
  n: number,
  maxBytes: number,
  file: string,
  tick?: (records: number, bytes: number) => void,
): Promise<{ records: number; bytes: number; blank: number; histogram: HashHistogram }> {
  // Every shard file has written or copied what it is given once put()
  // settles (ShardFile.put), as HashCut's reused out buffer needs.
  const core = new HashCut(n, maxBytes);
  let lineBase = 0;
  let first = true;
  const totals = { records: 0, bytes: 0, blank: 0 };
  for await (const seg of lines) {
    let r: CutResult;
    try {
      r = core.cut(seg, first);
    } catch (err) {
      // HashCut knows the line within the chunk; the file and the lines before it are known here.
      throw err instanceof PbError && err.file === undefined
        ? new PbError(err.code, err.reason, { file, line: lineBase + (err.line ?? 0), field: err.field })
        : err;
    }
    first = false;
    let start = 0;
    for (let t = 0; t < n; t++) {
      const end = r.ends[t] as number;
      const f = files[t] as ShardFile;
      f.records += r.recs[t] as number;
      f.bytes += end - start;
      if (end > start) {
        const w = f.append(r.out.subarray(start, end));
        if (w) await w;
      }
      start = end;
    }
    lineBase += r.lines;
    totals.records += r.records;
    totals.bytes += r.bytes;
    totals.blank += r.blank;
    tick?.(totals.records, totals.bytes);
  }
  return { ...totals, histogram: core.histogram };
}

/** A shard over the limits in hash mode: say how many shards would fit. */
export function checkHashShards(
  infos: ShardInfo[],
  n: number,
  maxBytes: number,
  maxRecords: number,
  histogram: HashHistogram,
): void {
  const over = infos.find((s) => s.bytes > maxBytes || s.records > maxRecords);
  if (!over) return;
  let total = 0;
  let totalBytes = 0;
  for (const s of infos) {
    total += s.records;
    totalBytes += s.bytes;
  }
  let k = Math.max(n + 1, Math.ceil(total / maxRecords), Math.ceil(totalBytes / maxBytes));
  while (k < 1_000_000 && !histogram.fits(k, maxBytes, maxRecords)) k++;
  throw new PbError(
    'PB_LIMIT',
    `${shardName(over.index)} would hold ${over.records} records and ${over.bytes} bytes, over the limits (${maxRecords} records, ${maxBytes} bytes): use --shards ${k} or more`,
  );
}
