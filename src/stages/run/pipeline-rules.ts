// The rules of a pipeline file that a schema cannot say, field by field, each part resolving its
// section into the typed options of the stages (problems gathered by JSON path, never thrown).
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parseSince } from '../../core/dates.js';
import { encodingProblem } from '../../core/encoding.js';
import { type FamilyInfo, resolveFamily } from '../../core/families.js';
import { isParquetFormat, type OutputFormat } from '../../core/out/convert-config.js';
import { parseDelimiter } from '../../core/sniff.js';
import { parseBytes, parseCount, parseDuration } from '../../core/units.js';
import { parseWhere } from '../../core/where.js';
import { PbError } from '../../errors.js';
import { inFolder, isS3Uri } from '../../io/s3.js';
import { jobOptionProblems, kindOf } from '../jobs/model.js';
import {
  PIPELINE_DEFAULTS,
  PIPELINE_OPTION_NAMES,
  type Pipeline,
  type PipelineFile,
} from './pipeline-types.js';

/** What the parts share: the problems found, and how a value and a path are read. */
interface Rules {
  problems: string[];
  /** The value fn gives, or undefined with its PbError's reason recorded under path. */
  at: <T>(path: string, fn: () => T) => T | undefined;
  /** A path relative to the pipeline file, made absolute (S3 URIs and - as they are). */
  place: (path: string) => string;
}

/** The rules a schema cannot say, and the resolved pipeline (undefined when a problem was found). */
export function resolveChecked(
  p: PipelineFile,
  file: string,
  problems: string[],
  lenient: boolean,
): Pipeline | undefined {
  const base = isS3Uri(file) ? undefined : dirname(resolve(file));
  const r: Rules = {
    problems,
    at: (path, fn) => {
      try {
        return fn();
      } catch (err) {
        if (!(err instanceof PbError)) {
          if (lenient) return undefined;
          throw err;
        }
        problems.push(`${path}: ${err.reason}`);
        return undefined;
      }
    },
    place: (path) => (isS3Uri(path) || path === '-' || !base || isAbsolute(path) ? path : join(base, path)),
  };
  const family = r.at('$.recipe', () => resolveFamily(p.recipe));
  const input = inputOf(r, p);
  const shards = shardsOf(r, p, family);
  const jobs = jobsOf(r, p, family);
  const work = workOf(r, p);
  const output = outputOf(r, p, family, work);
  if (problems.length > 0 || !family) return undefined;
  return {
    file,
    family,
    recipe: p.recipe,
    input,
    work,
    shards,
    validate: p.validate ?? PIPELINE_DEFAULTS.validate,
    jobs,
    output,
    aws: { ...p.aws },
  };
}

/** $.input: sizes, the delimiter, the encoding, since; no stdin (a rerun cannot read it again). */
function inputOf(r: Rules, p: PipelineFile): Pipeline['input'] {
  const { at, place, problems } = r;
  // Read defensively: with lenient set the schema refused this shape, and its report says why.
  const i = p.input ?? ({ sources: [] } as unknown as PipelineFile['input']);
  const sources: string[] = Array.isArray(i.sources) ? i.sources : [];
  const input: Pipeline['input'] = {
    ...i,
    sources: sources.map(place),
    onInvalid: i.onInvalid ?? PIPELINE_DEFAULTS.onInvalid,
    maxLineLength:
      i.maxLineLength === undefined
        ? undefined
        : at('$.input.maxLineLength', () => size(i.maxLineLength as number | string, 'maxLineLength')),
    memoryBudget:
      i.memoryBudget === undefined
        ? undefined
        : at('$.input.memoryBudget', () => size(i.memoryBudget as number | string, 'memoryBudget')),
    tmpDir: i.tmpDir === undefined ? undefined : place(i.tmpDir),
    delimiter:
      i.delimiter === undefined
        ? undefined
        : at('$.input.delimiter', () => parseDelimiter(i.delimiter as string, 'the delimiter')),
  };
  const badEncoding = i.encoding === undefined ? undefined : encodingProblem(i.encoding);
  if (badEncoding) problems.push(`$.input.encoding: ${badEncoding}`);
  if (i.since !== undefined) {
    const since = parseSince(i.since);
    if ('problem' in since) problems.push(`$.input.since: ${since.problem.replace(/^--since /, '')}`);
  }
  if (typeof i.where === 'string') {
    try {
      parseWhere(i.where, PIPELINE_OPTION_NAMES.where);
    } catch (err) {
      if (!(err instanceof PbError)) throw err;
      // The reason names $.input.where itself, and points at the character.
      problems.push(err.reason);
    }
  }
  if (sources.includes('-'))
    problems.push('$.input.sources: stdin (-) cannot be read again on resume; give files');
  return input;
}

/** $.shards: sizes and counts within the service quotas; themes take 100 records a file. */
function shardsOf(r: Rules, p: PipelineFile, family: FamilyInfo | undefined): Pipeline['shards'] {
  const { at, problems } = r;
  const s = p.shards ?? {};
  const shards = {
    maxBytes:
      s.maxBytes === undefined
        ? undefined
        : at('$.shards.maxBytes', () => size(s.maxBytes as number | string, 'maxBytes')),
    maxRecords:
      s.maxRecords === undefined
        ? undefined
        : at('$.shards.maxRecords', () => count(s.maxRecords as number | string, 'maxRecords')),
    maxRecordsPerFile:
      s.maxRecordsPerFile === undefined
        ? undefined
        : at('$.shards.maxRecordsPerFile', () =>
            count(s.maxRecordsPerFile as number | string, 'maxRecordsPerFile'),
          ),
    maxFilesPerShard: s.maxFilesPerShard,
    count: s.count,
  };
  if (shards.maxRecords !== undefined && shards.maxRecords > 50_000_000)
    problems.push('$.shards.maxRecords: a batch job takes at most 50M (50000000) records');
  if (family && shards.maxRecordsPerFile !== undefined && shards.maxRecordsPerFile > family.maxRecordsPerFile)
    problems.push(
      `$.shards.maxRecordsPerFile: ${family.family} takes at most ${family.maxRecordsPerFile} records per input file`,
    );
  if (shards.maxBytes !== undefined && shards.maxBytes > 1_000_000_000)
    problems.push('$.shards.maxBytes: a batch job takes at most 1GB (1000000000 bytes) of input');
  // Themes: Similar-Items only, and 100 records per input file (a shard is then several files).
  const j = p.jobs ?? ({} as PipelineFile['jobs']);
  if (j.themeItemNameColumn !== undefined && family) {
    if (family.family !== 'related-items')
      problems.push(
        `$.jobs.themeItemNameColumn: themes are for Similar-Items (related-items), not ${family.family}`,
      );
    if (shards.maxRecordsPerFile === undefined) shards.maxRecordsPerFile = 100;
    else if (shards.maxRecordsPerFile > 100)
      problems.push('$.shards.maxRecordsPerFile: with themes a job input file takes at most 100 records');
  }

  return shards;
}

/** $.jobs: the Create fields the service would refuse, by path; none a segment job does not take. */
function jobsOf(r: Rules, p: PipelineFile, family: FamilyInfo | undefined): Pipeline['jobs'] {
  const { at, problems } = r;
  const j = p.jobs ?? ({} as PipelineFile['jobs']);
  const jobs: Pipeline['jobs'] = {
    solutionVersionArn: j.solutionVersionArn,
    roleArn: j.roleArn,
    numResults: j.numResults,
    filterArn: j.filterArn,
    explorationWeight: j.explorationWeight === undefined ? undefined : String(j.explorationWeight),
    explorationItemAgeCutoff:
      j.explorationItemAgeCutoff === undefined ? undefined : String(j.explorationItemAgeCutoff),
    rankingInfluence: j.rankingInfluence,
    themeItemNameColumn: j.themeItemNameColumn,
    inputKmsKeyArn: j.inputKmsKeyArn,
    outputKmsKeyArn: j.outputKmsKeyArn,
    tags: j.tags,
    jobNamePrefix: j.jobNamePrefix ?? PIPELINE_DEFAULTS.jobNamePrefix,
    maxRunning: j.maxRunning ?? PIPELINE_DEFAULTS.maxRunning,
    retryFailed: j.retryFailed ?? PIPELINE_DEFAULTS.retryFailed,
    pollIntervalMs:
      j.pollInterval === undefined
        ? PIPELINE_DEFAULTS.pollIntervalMs
        : (at('$.jobs.pollInterval', () =>
            typeof j.pollInterval === 'number'
              ? Math.round(j.pollInterval * 1000)
              : parseDuration(j.pollInterval as string, 'pollInterval'),
          ) ?? PIPELINE_DEFAULTS.pollIntervalMs),
  };
  if (family?.segment) {
    for (const f of [
      'explorationWeight',
      'explorationItemAgeCutoff',
      'rankingInfluence',
      'themeItemNameColumn',
    ] as const)
      if (j[f] !== undefined)
        problems.push(`$.jobs.${f}: batch segment jobs take no such field (${family.family})`);
  }
  {
    // With the recipe unknown the job fields are still checked, as for a batch inference job.
    const checked = family?.segment
      ? {
          ...jobs,
          explorationWeight: undefined,
          explorationItemAgeCutoff: undefined,
          rankingInfluence: undefined,
          themeItemNameColumn: undefined,
        }
      : jobs;
    for (const problem of jobOptionProblems(family ? kindOf(family) : 'inference', checked))
      problems.push(`${jobField(problem.field)}: ${problem.reason}`);
  }

  return jobs;
}

/** $.work, with its trailing slash; a job's longest path under it must fit 256 characters. */
function workOf(r: Rules, p: PipelineFile): string {
  const workGiven = typeof p.work === 'string' ? p.work : '';
  const work = workGiven.endsWith('/') ? workGiven : `${workGiven}/`;
  // The longest path a job gets is WORK/output/shard-NNNNN/; the service takes 256 characters.
  if (work.length + 'output/shard-00000/'.length > 256)
    r.problems.push(
      `$.work: at most ${256 - 'output/shard-00000/'.length} characters (job paths under it must fit 256)`,
    );
  return work;
}

/** The export's name in output.dir: recommendations.csv, segments.jsonl, recommendations.parquet, or a folder for partitions. */
function defaultFile(format: OutputFormat, family: FamilyInfo | undefined, partitioned: boolean): string {
  const base = family?.segment ? 'segments' : 'recommendations';
  if (partitioned) return base;
  return `${base}.${format === 'jsonl' ? 'jsonl' : isParquetFormat(format) ? 'parquet' : 'csv'}`;
}

/** $.output: where each file goes, the catalog's settings (none for segment jobs). */
function outputOf(
  r: Rules,
  p: PipelineFile,
  family: FamilyInfo | undefined,
  work: string,
): Pipeline['output'] {
  const { at, place, problems } = r;
  const o = p.output ?? ({ dir: '.' } as PipelineFile['output']);
  const dir = place(typeof o.dir === 'string' ? o.dir : '.');
  const format = o.format ?? PIPELINE_DEFAULTS.format;
  const inDir = (name: string) => inFolder(dir, name);
  const output: Pipeline['output'] = {
    dir,
    format,
    file: inDir(o.file ?? defaultFile(format, family, o.partitionBy !== undefined)),
    top: o.top,
    catalog: o.catalog === undefined ? undefined : place(o.catalog),
    catalogColumns: o.catalogColumns,
    catalogIdColumn: o.catalogIdColumn,
    catalogDelimiter:
      o.catalogDelimiter === undefined
        ? undefined
        : at('$.output.catalogDelimiter', () =>
            parseDelimiter(o.catalogDelimiter as string, 'the delimiter'),
          ),
    catalogEncoding: o.catalogEncoding,
    maxCatalogItems: o.maxCatalogItems,
    users: o.users === undefined ? undefined : place(o.users),
    userKey: o.userKey,
    userFields: o.userFields,
    usersDelimiter:
      o.usersDelimiter === undefined
        ? undefined
        : at('$.output.usersDelimiter', () => parseDelimiter(o.usersDelimiter as string, 'the delimiter')),
    usersEncoding: o.usersEncoding,
    usersRequired: o.usersRequired ?? false,
    escapeFormulas: o.escapeFormulas ?? PIPELINE_DEFAULTS.escapeFormulas,
    lineEnding: o.lineEnding ?? PIPELINE_DEFAULTS.lineEnding,
    bom: o.bom,
    rename: o.rename === undefined ? undefined : { ...o.rename },
    partitionBy: o.partitionBy === undefined ? undefined : { ...o.partitionBy },
    maxFileSize:
      o.maxFileSize === undefined
        ? undefined
        : at('$.output.maxFileSize', () => size(o.maxFileSize as number | string, 'the size')),
    maxCellBytes: o.maxCellBytes,
    since: o.since === undefined || o.since === 'last' ? o.since : place(o.since),
    removed:
      o.since === undefined ? undefined : o.removed === undefined ? inDir('removed.csv') : place(o.removed),
    sinceScores: o.sinceScores ?? false,
    history: o.history === false ? undefined : inDir('history'),
    report:
      o.report === false ? undefined : { ...(o.report === true ? {} : o.report), html: inDir('report.html') },
    ...mapUsersOf(r, o),
    mapRejects: inDir('map-users-rejects.jsonl'),
    merged: o.merged === undefined ? `${work}merged.jsonl` : place(o.merged),
    rejects: inDir('rejects.jsonl'),
    missing: inDir('missing.jsonl'),
    errors: inDir('errors.jsonl'),
    invalid: inDir('invalid-output.jsonl'),
    summary: inDir('summary.json'),
  };
  outputRules(r, o, format, dir, family);
  const badCatalogEncoding = o.catalogEncoding === undefined ? undefined : encodingProblem(o.catalogEncoding);
  if (badCatalogEncoding) problems.push(`$.output.catalogEncoding: ${badCatalogEncoding}`);
  // The report runs last: its settings are checked now, not after the jobs were paid for.
  const report = typeof o.report === 'object' ? o.report : undefined;
  if (report?.locale !== undefined && !isLocale(report.locale))
    problems.push(
      `$.output.report.locale: ${JSON.stringify(report.locale)} is not a BCP 47 language tag (en-US, de-DE)`,
    );
  if (report?.catalogTitleColumn !== undefined && o.catalog === undefined)
    problems.push('$.output.report.catalogTitleColumn: needs $.output.catalog');
  return output;
}

/** What the output settings may not say together, section by section (each problem by its path). */
function outputRules(
  r: Rules,
  o: PipelineFile['output'],
  format: OutputFormat,
  dir: string,
  family: FamilyInfo | undefined,
): void {
  const { problems } = r;
  if (o.merged === '-')
    problems.push(
      "$.output.merged: - (stdout) holds the run's summary, not its files: name a file, or leave it out for WORK/merged.jsonl",
    );
  if (format === 'jsonl')
    for (const f of ['bom', 'rename', 'maxCellBytes'] as const)
      if (o[f] !== undefined && o[f] !== false)
        problems.push(
          `$.output.${f}: CSV only (see export's --${f === 'maxCellBytes' ? 'max-cell-bytes' : f}); leave it out with format jsonl`,
        );
  if (isParquetFormat(format))
    for (const f of ['bom', 'since', 'mapUsers'] as const)
      if (o[f] !== undefined && o[f] !== false)
        problems.push(
          `$.output.${f}: not with format ${format} (see export --format ${format}); leave it out`,
        );
  if (o.partitionBy !== undefined && !isParquetFormat(format))
    problems.push(
      '$.output.partitionBy: writes Parquet partition folders: needs format parquet or parquet-wide',
    );
  if (o.maxFileSize !== undefined && isS3Uri(dir) && !isParquetFormat(format))
    problems.push('$.output.maxFileSize: parts are written to a local folder only; give a local output.dir');
  if (o.catalogColumns && !o.catalog) problems.push('$.output.catalogColumns: needs $.output.catalog');
  if (o.catalog !== undefined && family?.segment)
    problems.push(
      `$.output.catalog: ${family.family} jobs return users for each item, and a catalog joins recommended items: leave it out`,
    );
  usersRules(r, o, family);
  for (const k of ['removed', 'sinceScores'] as const)
    if (o[k] !== undefined && o.since === undefined) problems.push(`$.output.${k}: needs $.output.since`);
  if (o.since === 'last' && o.history === false)
    problems.push(
      '$.output.since: "last" is the newest run in OUT/history/, which output.history false stops keeping: give a file, or keep the history',
    );
  mapUsersRules(r, o, family);
}

/** $.output.users and its settings: a users file joins by user id, so only to outputs keyed by it. */
function usersRules(r: Rules, o: PipelineFile['output'], family: FamilyInfo | undefined): void {
  for (const k of ['userKey', 'userFields', 'usersDelimiter', 'usersEncoding', 'usersRequired'] as const)
    if (o[k] !== undefined && o.users === undefined) r.problems.push(`$.output.${k}: needs $.output.users`);
  // With mapUsers the rows are per user whatever the job's key.
  if (o.users !== undefined && family && family.key !== 'userId' && o.mapUsers === undefined)
    r.problems.push(
      `$.output.users: ${family.family} output is keyed by ${family.key}, not by user id, and a users file joins by user id: leave it out`,
    );
  const bad = o.usersEncoding === undefined ? undefined : encodingProblem(o.usersEncoding);
  if (bad) r.problems.push(`$.output.usersEncoding: ${bad}`);
}

/** $.output.mapUsers and its settings as given, the file placed. */
function mapUsersOf(
  r: Rules,
  o: PipelineFile['output'],
): Pick<
  Pipeline['output'],
  'mapUsers' | 'mapUserColumn' | 'mapItemColumn' | 'mapPick' | 'mapTimeColumn' | 'excludeSeen'
> {
  return {
    mapUsers: o.mapUsers === undefined ? undefined : r.place(o.mapUsers),
    mapUserColumn: o.mapUserColumn,
    mapItemColumn: o.mapItemColumn,
    mapPick: o.mapPick,
    mapTimeColumn: o.mapTimeColumn,
    excludeSeen: o.excludeSeen,
  };
}

/** $.output.mapUsers and its settings: related items (keyed by item id) to rows per user. */
function mapUsersRules(r: Rules, o: PipelineFile['output'], family: FamilyInfo | undefined): void {
  for (const k of ['mapUserColumn', 'mapItemColumn', 'mapPick', 'mapTimeColumn', 'excludeSeen'] as const)
    if (o[k] !== undefined && o.mapUsers === undefined)
      r.problems.push(`$.output.${k}: needs $.output.mapUsers`);
  if (o.mapUsers === undefined) return;
  if (family && family.key !== 'itemId')
    r.problems.push(
      `$.output.mapUsers: maps related items (output keyed by itemId), and ${family.family} output is keyed by ${family.key}: leave it out`,
    );
  if (o.maxFileSize !== undefined)
    r.problems.push('$.output.maxFileSize: not done with $.output.mapUsers; leave it out');
  // "last" is the newest run's merged job output, keyed by source item; the rows per user are compared with an export.
  if (o.since === 'last')
    r.problems.push(
      '$.output.since: "last" is the previous run\'s job output, keyed by source item, and $.output.mapUsers writes rows per user: give the previous run\'s export (a copy of its output.file) instead',
    );
}

export function size(v: number | string, name: string): number {
  return typeof v === 'number' ? v : parseBytes(v, name);
}

export function count(v: number | string, name: string): number {
  return typeof v === 'number' ? v : parseCount(v, name);
}

/** The CLI option names checkJobOptions uses, as the pipeline's JSON paths. */
function jobField(field: string | undefined): string {
  if (!field) return '$.jobs';
  const camel = field.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const renamed: Record<string, string> = { themeItemName: 'themeItemNameColumn', tag: 'tags' };
  return `$.jobs.${renamed[camel] ?? camel}`;
}

function isLocale(tag: string): boolean {
  try {
    new Intl.NumberFormat(tag);
    return true;
  } catch {
    return false;
  }
}
