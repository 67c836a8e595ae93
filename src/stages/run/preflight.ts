// What the full run and the dry run share before prepare: every source and the catalog checked in one
// report, prepare's options from the pipeline, and the stop when the input gives no record.
import { type ConvertConfig, csvHeader, type Layout } from '../../core/out-convert.js';
import { alternatives, closest } from '../../core/suggest.js';
import { count } from '../../core/units.js';
import { PbError } from '../../errors.js';
import { checkOutputs, type NamedPath } from '../../io/output.js';
import {
  checkCatalog,
  checkInteractions,
  checkUsers,
  type MapUsersNames,
  resolveMapUsers,
} from '../export/index.js';
import { checkSources, type PrepareOptions } from '../prepare/index.js';
import { PIPELINE_OPTION_NAMES, type Pipeline } from './pipeline.js';
import type { RunSummary } from './types.js';

/**
 * The input gave no record to run: a job over none fails ("no input data"), and on AWS a job can be
 * neither cancelled nor deleted, so the run ends here (exit 1) and says why.
 */
export function stopWithoutRecords(p: Pipeline, summary: RunSummary): void {
  const r = summary.records;
  const why: string[] = [];
  if (r.read === 0)
    why.push(
      `the source${p.input.sources.length === 1 ? '' : 's'} held no record (empty, or a header and nothing under it)`,
    );
  if (r.rejected > 0)
    why.push(
      `${r.rejected === r.read ? 'every record' : count(r.rejected, 'record')} rejected: see ${summary.files.rejects ?? p.output.rejects} for each reason`,
    );
  if (r.inactive > 0) why.push(`${count(r.inactive, 'record')} older than $.input.since`);
  if (r.filteredOut > 0) why.push(`${count(r.filteredOut, 'record')} left out by $.input.where`);
  if (why.length === 0) why.push(`${count(r.read, 'record')} read, none written`);
  summary.exitCode = 1;
  // Only these are written when the run stops here.
  summary.files = {
    ...summary.files,
    export: null,
    merged: null,
    missing: null,
    errors: null,
    invalid: null,
    rejects: r.rejected > 0 ? (summary.files.rejects ?? p.output.rejects) : null,
  };
  summary.advice.push(
    `no record to run: ${why.join('; ')}. ${summary.dryRun ? 'A run would stop here' : 'Stopped after prepare'}: no shard, no job`,
  );
}

/**
 * Every source (there, a list, its format, the columns asked for) and the catalog, checked before
 * anything is read whole, uploaded or created: all their problems in one report, by the pipeline
 * file's field paths.
 */
export async function preflight(p: Pipeline): Promise<void> {
  const problems = (await checkSources(prepareOptions(p))).map(
    (x) => `$.input.sources[${x.source}]: ${x.message}`,
  );
  // The joined columns as the files name them, for the check of output.rename ([] when a file failed).
  const joined = { catalog: [] as string[], users: [] as string[] };
  if (p.output.catalog !== undefined) {
    try {
      joined.catalog = await checkCatalog(p.output, PIPELINE_CATALOG_NAMES);
    } catch (err) {
      if (!(err instanceof PbError)) throw err;
      problems.push(err.message.includes('$.output.') ? err.message : `$.output.catalog: ${err.message}`);
    }
    const title = p.output.report?.catalogTitleColumn;
    if (title !== undefined)
      await checkCatalog({ ...p.output, catalogColumns: [title] }, PIPELINE_CATALOG_NAMES).catch((err) => {
        if (!(err instanceof PbError)) throw err;
        problems.push(`$.output.report.catalogTitleColumn: ${err.message}`);
      });
  }
  if (p.output.users !== undefined) {
    try {
      joined.users = await checkUsers(p.output, PIPELINE_USERS_NAMES);
    } catch (err) {
      if (!(err instanceof PbError)) throw err;
      problems.push(err.message.includes('$.output.') ? err.message : `$.output.users: ${err.message}`);
    }
  }
  if (p.output.mapUsers !== undefined) {
    try {
      const m = resolveMapUsers({ ...p.output, maxFileSize: undefined, since: undefined });
      if (m) await checkInteractions(m, PIPELINE_MAP_USERS_NAMES);
    } catch (err) {
      if (!(err instanceof PbError)) throw err;
      problems.push(err.message.includes('$.output.') ? err.message : `$.output.mapUsers: ${err.message}`);
    }
  }
  const rename = renameProblem(p, joined);
  if (rename) problems.push(rename);
  await checkRunPaths(p).catch((err) => {
    if (!(err instanceof PbError)) throw err;
    problems.push(err.message);
  });
  // Each problem names its own file (a source, the catalog, the users file, the interactions).
  if (problems.length === 1) throw new PbError('PB_USAGE', problems[0] as string);
  if (problems.length > 1)
    throw new PbError('PB_USAGE', `${problems.length} problems:\n  ${problems.join('\n  ')}`, {
      file: p.file,
    });
}

/**
 * The run's files checked as each step will check its own (io/output.ts checkOutputs), before
 * a job is paid for: `$.output.file` over the users file was found only at the export, after
 * the jobs, and replaced the CRM export. PREV (`last`, from history) is the export's to check.
 */
async function checkRunPaths(p: Pipeline): Promise<void> {
  const o = p.output;
  const outputs: NamedPath[] = [
    ['$.output.file', o.file],
    ['$.output.removed', o.removed],
    ['$.output.merged', o.merged],
    ['$.output.rejects', o.rejects],
    ['$.output.missing', o.missing],
    ['$.output.errors', o.errors],
    ['$.output.invalid', o.invalid],
    ['$.output.mapRejects', o.mapUsers === undefined ? undefined : o.mapRejects],
    ['$.output.summary', o.summary],
    ['the report page', o.report?.html],
  ];
  const inputs: NamedPath[] = [
    ...p.input.sources.map((s, i): NamedPath => [`$.input.sources[${i}]`, s]),
    ['$.output.users', o.users],
    ['$.output.catalog', o.catalog],
    ['$.output.mapUsers', o.mapUsers],
    ['$.output.since', o.since === 'last' ? undefined : o.since],
  ];
  await checkOutputs(outputs, inputs, { parts: (o.maxFileSize ?? 0) > 0, folders: false });
}

/** Catalog messages name the pipeline file's keys. */
export const PIPELINE_CATALOG_NAMES = {
  delimiter: '$.output.catalogDelimiter',
  encoding: '$.output.catalogEncoding',
  idColumn: '$.output.catalogIdColumn',
  columns: '$.output.catalogColumns',
};

/** Users file messages name the pipeline file's keys. */
export const PIPELINE_USERS_NAMES = {
  delimiter: '$.output.usersDelimiter',
  encoding: '$.output.usersEncoding',
  idColumn: '$.output.userKey',
  columns: '$.output.userFields',
};

export function prepareOptions(p: Pipeline): PrepareOptions {
  const i = p.input;
  const sep = i.valueSeparator ?? '|';
  return {
    recipe: p.family.family,
    sources: i.sources,
    format: i.format,
    delimiter: i.delimiter,
    encoding: i.encoding,
    allowEmailIds: i.allowEmailIds,
    skipLines: i.skipLines,
    header: i.header,
    optionNames: PIPELINE_OPTION_NAMES,
    column: i.column,
    itemColumn: i.itemColumn,
    itemListColumn: i.itemListColumn,
    listSeparator: i.listSeparator,
    attributes: i.attributes,
    filters: Object.entries(i.filterColumns ?? {}).map(([name, column]) => `${name}=${column}`),
    filterConstants: Object.entries(i.filterConstants ?? {}).map(
      ([name, v]) => `${name}=${Array.isArray(v) ? v.join(sep) : v}`,
    ),
    valueSeparator: i.valueSeparator,
    since: i.since,
    timestampColumn: i.timestampColumn,
    where: i.where,
    dedupe: i.dedupe,
    memoryBudget: i.memoryBudget,
    tmpDir: i.tmpDir,
    onInvalid: i.onInvalid,
    rejects: i.onInvalid === 'skip' ? p.output.rejects : undefined,
    maxLineLength: i.maxLineLength,
    maxItemList: i.maxItemList,
    shardMaxBytes: p.shards.maxBytes,
    shardMaxRecords: p.shards.maxRecords,
    shardMaxRecordsPerFile: p.shards.maxRecordsPerFile,
    shardMaxFilesPerShard: p.shards.maxFilesPerShard,
    shards: p.shards.count,
  };
}

/** Interactions file messages name the pipeline file's keys. */
export const PIPELINE_MAP_USERS_NAMES: MapUsersNames = {
  file: '$.output.mapUsers',
  userColumn: '$.output.mapUserColumn',
  itemColumn: '$.output.mapItemColumn',
  timeColumn: '$.output.mapTimeColumn',
};

/**
 * output.rename of a column no export of this pipeline can have (any layout, every numbered column
 * up to $.output.top or $.jobs.numResults, else 500, the service's most), found before any job is
 * paid for. Columns that may or may not come (score_1, item_4) are left to the export, which writes
 * them when the sources have them, an empty week included.
 */
function renameProblem(p: Pipeline, joined: { catalog: string[]; users: string[] }): string | undefined {
  const o = p.output;
  const format = o.format ?? 'csv-long';
  if (!o.rename || o.mapUsers !== undefined || (format !== 'csv-long' && format !== 'csv-wide'))
    return undefined;
  const width = o.top ?? p.jobs.numResults ?? 500;
  const cfg = (w: number) =>
    ({
      format,
      width: w,
      catalogColumns: joined.catalog,
      userColumns: joined.users,
    }) as unknown as ConvertConfig;
  const can = new Set<string>();
  const shown = new Set<string>();
  for (const keyField of ['userId', 'itemId', 'itemAttributes'] as const)
    for (const users of [false, true]) {
      const layout = {
        kind: 'recommendations',
        keyField,
        users,
        score: true,
        reason: true,
        theme: true,
      } as Layout;
      for (const name of csvHeader(cfg(width), layout)) can.add(name);
      for (const name of csvHeader(cfg(1), layout)) shown.add(name.replace(/_1$/, '_N'));
    }
  const missing = Object.keys(o.rename).filter((from) => !can.has(from));
  if (missing.length === 0) return undefined;
  const near = closest(missing[0] as string, [...can]);
  return `$.output.rename: no ${format} export of this pipeline has a column ${missing.map((m) => JSON.stringify(m)).join(', ')}${near.length > 0 ? ` (did you mean ${alternatives(near)}?)` : ''}; its columns can be ${[...shown].join(', ')}${format === 'csv-wide' ? ` (N from 1 to ${width})` : ''}`;
}
