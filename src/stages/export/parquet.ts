import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { partPath } from '../../core/email-files.js';
import { type ConvertConfig, type Layout, outputHeader } from '../../core/out-convert.js';
import { type PlacedRowGroup, parquetFooter } from '../../core/parquet/footer.js';
import { makeTempDir, writeOutput } from '../../io/output.js';
import { type ParquetColumn, rowGroupRows, writeParquet } from '../../io/parquet.js';
import { isS3Uri } from '../../io/s3.js';
import type { ParquetPlan, ResolvedExportOptions } from './options.js';

/**
 * `--format parquet`: the export writes csv-long (`parquet-wide`: csv-wide;
 * LF, no formula guard, no BOM: the values as they are) to a temporary file, with the usual workers
 * and memory bound, then DuckDB turns it into Parquet row group by row
 * group, and each file goes to its place through writeOutput (local files
 * renamed into place, s3:// as multipart uploads, or stdout).
 */
export class ParquetExport {
  private constructor(
    private readonly plan: ParquetPlan,
    private readonly dir: string,
    /** The options the csv-long pass runs with. */
    readonly csv: ResolvedExportOptions,
  ) {}

  static async open(o: ResolvedExportOptions, plan: ParquetPlan): Promise<ParquetExport> {
    const dir = await makeTempDir(o.tmpDir, 'personalize-batch-parquet-');
    const own = ownWriter(o, plan);
    // The workers' file goes straight where asked (a file, s3:// or stdout), but for a local
    // partition folder, made only once the export has succeeded.
    const direct = own && (plan.partitionBy.length === 0 || isS3Uri(plan.output));
    const csv: ResolvedExportOptions = {
      ...o,
      format: plan.format === 'parquet-wide' ? 'csv-wide' : 'csv-long',
      output: direct ? targetName(plan, 0) : join(dir, own ? 'rows.parquet' : 'rows.csv'),
      parquetRowGroups: own,
      crlf: false,
      escapeFormulas: false,
      bom: false,
      maxFileSize: 0,
    };
    return new ParquetExport(plan, dir, csv);
  }

  /** Converts the CSV file with these columns (as the CSV names them); returns the files written. */
  async finish(
    header: string[],
    shape: { layout: Layout; width: number },
    rows: number,
    bytes: number,
    stdout: Writable | undefined,
  ): Promise<ParquetFiles> {
    const p = this.plan;
    const columns = parquetColumns(
      header,
      shape.layout,
      p.format === 'parquet-wide' ? shape.width : undefined,
    );
    if (this.csv.parquetRowGroups === true) {
      // The export wrote the whole file (row groups, footer): where asked, or here to be placed.
      if (this.csv.output !== join(this.dir, 'rows.parquet'))
        return { files: [this.csv.output], columns: columns.map((c) => c.name), leftOver: undefined, bytes };
      return this.place([this.csv.output], columns, stdout);
    }
    const rotate = p.maxFileSize > 0;
    const dest = join(this.dir, rotate ? 'parts' : 'rows.parquet');
    const job = {
      csv: this.csv.output,
      csvColumns: header.length,
      columns,
      dest,
      fileSizeBytes: p.maxFileSize,
      rowGroupRows: rowGroupRows((await stat(this.csv.output)).size, rows),
      tempDir: this.dir,
    };
    await writeParquet(job);
    let made = rotate ? await numbered(dest) : [dest];
    if (made.length === 0) {
      // No rows: DuckDB rotated into no file at all, and an export always leaves one (its columns).
      const one = join(this.dir, 'rows.parquet');
      await writeParquet({ ...job, dest: one, fileSizeBytes: 0 });
      made = [one];
    }
    return this.place(made, columns, stdout);
  }

  /** The files made in the temporary folder to their places, all or none. */
  private async place(
    made: string[],
    columns: ParquetColumn[],
    stdout: Writable | undefined,
  ): Promise<ParquetFiles> {
    const p = this.plan;
    const rotate = p.maxFileSize > 0;
    const names = made.map((_, i) => targetName(p, i));
    const done: string[] = [];
    try {
      for (const [i, name] of names.entries()) {
        const local = !isS3Uri(name) && name !== '-';
        if (local && p.partitionBy.length > 0) await mkdir(partitionDir(p), { recursive: true });
        await writeOutput(name, stdout, createReadStream(made[i] as string));
        if (local) done.push(name);
      }
    } catch (err) {
      // All or none: the files already in place go too.
      for (const f of done) await rm(f, { force: true });
      throw err;
    }
    const next = rotate || p.partitionBy.length > 0 ? targetName(p, names.length) : undefined;
    const leftOver =
      next !== undefined &&
      !isS3Uri(next) &&
      (await stat(next).then(
        () => true,
        () => false,
      ))
        ? next
        : undefined;
    let bytes = 0;
    for (const f of made) bytes += (await stat(f)).size;
    return { files: names, columns: columns.map((c) => c.name), leftOver, bytes };
  }

  dispose(): Promise<void> {
    return rm(this.dir, { recursive: true, force: true });
  }
}

export interface ParquetFiles {
  files: string[];
  columns: string[];
  /** The next part's name, when an earlier export left a file there. */
  leftOver: string | undefined;
  bytes: number;
}

/**
 * csv-long's columns typed: rank INTEGER, the score DOUBLE followed by its
 * text exactly as printed (`score_text`), everything else strings. With
 * `width` csv-wide's (parquet-wide): no rank (the column's number is it),
 * each score_i DOUBLE followed by its text (`score_i_text`), empty cells
 * (a key with fewer ids) NULL.
 */
export function parquetColumns(header: string[], layout: Layout, width?: number): ParquetColumn[] {
  const taken = new Set(header);
  const out: ParquetColumn[] = [];
  // csv-wide: key, theme?, `width` ids, then `width` scores.
  const firstScore = width === undefined ? 3 : 1 + (layout.theme ? 1 : 0) + width;
  const scores = !layout.score ? 0 : width === undefined ? 1 : width;
  for (const [i, name] of header.entries()) {
    if (i === 1 && width === undefined) out.push({ from: i, name, type: 'INTEGER' });
    else if (i >= firstScore && i < firstScore + scores) {
      out.push({ from: i, name, type: 'DOUBLE' });
      let text = `${name}_text`;
      while (taken.has(text)) text = `${name}_${text}`;
      taken.add(text);
      out.push({ from: i, name: text, type: 'VARCHAR' });
    } else out.push({ from: i, name, type: 'VARCHAR' });
  }
  return out;
}

/** `OUT/KEY=VALUE/...`: the Hive layout's folder (OUT itself without --partition-by). */
function partitionDir(p: ParquetPlan): string {
  const base = p.output.replace(/\/+$/, '');
  return [base, ...p.partitionBy.map(([k, v]) => `${k}=${v}`)].join('/');
}

/**
 * The i-th file's name: with --partition-by `part-00000.parquet` and on in
 * the partition's folder (Spark's and Glue's names); otherwise OUTPUT, or
 * with --max-file-size its numbered parts as for CSV (`recs-00001.parquet`).
 */
function targetName(p: ParquetPlan, i: number): string {
  if (p.partitionBy.length > 0) return `${partitionDir(p)}/part-${String(i).padStart(5, '0')}.parquet`;
  return p.maxFileSize > 0 ? partPath(p.output, i + 1) : p.output;
}

/** DuckDB's rotated files (data_0.parquet, data_1.parquet, ...) in their order. */
async function numbered(dir: string): Promise<string[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^data_\d+\.parquet$/.test(n));
  names.sort((a, b) => Number(a.slice(5, -8)) - Number(b.slice(5, -8)));
  return names.map((n) => join(dir, n));
}

/**
 * Whether the conversion workers write the Parquet row groups themselves
 * (core/parquet/row-group.ts): csv-long's own columns in one file. Joined
 * columns (--catalog, --users), cut cells (--max-cell-bytes), csv-wide's
 * rows and files rotated by size (--max-file-size) go through DuckDB.
 */
export function ownWriter(o: ResolvedExportOptions, plan: ParquetPlan): boolean {
  return (
    plan.format === 'parquet' &&
    o.catalog === undefined &&
    o.users === undefined &&
    o.maxCellBytes === 0 &&
    plan.maxFileSize === 0
  );
}

/** The footer of the workers' row groups (csv-long's columns: rank and id on every row, the rest may be NULL). */
export function parquetFooterOf(cfg: ConvertConfig, layout: Layout, groups: PlacedRowGroup[]): Buffer {
  const schema = parquetColumns(outputHeader(cfg, layout), layout).map((c) => ({
    name: c.name,
    type: c.type,
    required: c.from === 1 || c.from === 2,
  }));
  return parquetFooter(schema, groups);
}
