/**
 * The pipeline file of `run`: read, checked against schemas/pipeline.schema.json
 * and the rules a schema cannot say, and resolved once into typed options for
 * every stage. Every mistake is reported with its JSON path, all at once,
 * before anything is uploaded or any job is created.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { ErrorObject } from 'ajv';
import { parseSince } from '../../core/dates.js';
import { encodingProblem } from '../../core/encoding.js';
import { type FamilyInfo, resolveFamily } from '../../core/families.js';
import type { ExportFormat } from '../../core/out-convert.js';
import { type OptionNames, parseDelimiter } from '../../core/sniff.js';
import { parseBytes, parseCount, parseDuration } from '../../core/units.js';
import { PbError } from '../../errors.js';
import { readJsonDoc } from '../../io/doc.js';
import { isS3Uri } from '../../io/s3.js';
import { configValidator } from '../../schemas.js';
import type { ExportOptions } from '../export/index.js';
import { type JobOptions, jobOptionProblems, kindOf } from '../jobs/model.js';
import type { PrepareOptions } from '../prepare/index.js';

/** The pipeline file as written (schemas/pipeline.schema.json). */
export interface PipelineFile {
  version: 1;
  recipe: string;
  /** prepare's options of the same names, plus filters as objects and sizes as text. */
  input: Pick<
    PrepareOptions,
    | 'format'
    | 'delimiter'
    | 'encoding'
    | 'allowEmailIds'
    | 'skipLines'
    | 'header'
    | 'column'
    | 'itemColumn'
    | 'itemListColumn'
    | 'listSeparator'
    | 'attributes'
    | 'valueSeparator'
    | 'since'
    | 'timestampColumn'
    | 'dedupe'
    | 'onInvalid'
    | 'maxItemList'
    | 'tmpDir'
  > & {
    sources: string[];
    filterColumns?: Record<string, string>;
    filterConstants?: Record<string, string | string[]>;
    maxLineLength?: number | string;
    memoryBudget?: number | string;
  };
  work: string;
  shards?: {
    maxBytes?: number | string;
    maxRecords?: number | string;
    maxRecordsPerFile?: number | string;
    maxFilesPerShard?: number;
    count?: number;
  };
  validate?: boolean;
  jobs: {
    solutionVersionArn: string;
    roleArn: string;
    numResults?: number;
    filterArn?: string;
    explorationWeight?: number | string;
    explorationItemAgeCutoff?: number | string;
    rankingInfluence?: Record<string, number>;
    themeItemNameColumn?: string;
    inputKmsKeyArn?: string;
    outputKmsKeyArn?: string;
    tags?: Record<string, string>;
    jobNamePrefix?: string;
    maxRunning?: number;
    retryFailed?: number;
    pollInterval?: number | string;
  };
  /** export's options of the same names, plus where things go. */
  output: Pick<
    ExportOptions,
    | 'format'
    | 'top'
    | 'catalog'
    | 'catalogColumns'
    | 'catalogIdColumn'
    | 'catalogDelimiter'
    | 'catalogEncoding'
    | 'maxCatalogItems'
    | 'escapeFormulas'
    | 'lineEnding'
  > & { dir: string; file?: string; merged?: string };
  aws?: { region?: string; profile?: string; s3Endpoint?: string; personalizeEndpoint?: string };
}

/** What prepare's messages call the settings when a pipeline file gave them. */
export const PIPELINE_OPTION_NAMES: OptionNames = {
  delimiter: '$.input.delimiter',
  encoding: '$.input.encoding',
  column: '$.input.column',
  format: '$.input.format',
  allowEmailIds: '$.input.allowEmailIds: true',
  skipLines: '$.input.skipLines',
  noHeader: '$.input.header: false',
  itemColumn: '$.input.itemColumn',
  itemListColumn: '$.input.itemListColumn',
  timestampColumn: '$.input.timestampColumn',
  attributes: '$.input.attributes',
  since: '$.input.since',
  filterColumn: (name) => `$.input.filterColumns.${name}`,
};

/** Everything `run` needs, with paths resolved and defaults filled in. */
export interface Pipeline {
  /** Where it was read from. */
  file: string;
  family: FamilyInfo;
  recipe: string;
  input: Omit<PipelineFile['input'], 'maxLineLength' | 'memoryBudget' | 'onInvalid'> & {
    onInvalid: 'fail' | 'skip';
    maxLineLength?: number;
    memoryBudget?: number;
  };
  /** Ends in `/`. */
  work: string;
  /** Per shard (one job): bytes and records; per input file: records; files per shard. See ShardOptions. */
  shards: {
    maxBytes?: number;
    maxRecords?: number;
    maxRecordsPerFile?: number;
    maxFilesPerShard?: number;
    count?: number;
  };
  validate: boolean;
  jobs: JobOptions & {
    jobNamePrefix: string;
    maxRunning: number;
    retryFailed: number;
    pollIntervalMs: number;
  };
  output: {
    dir: string;
    format: ExportFormat;
    /** The export's full path. */
    file: string;
    top?: number;
    catalog?: string;
    catalogColumns?: string[];
    catalogIdColumn?: string;
    catalogDelimiter?: string;
    catalogEncoding?: string;
    maxCatalogItems?: number;
    escapeFormulas: boolean;
    lineEnding: 'crlf' | 'lf';
    merged: string;
    rejects: string;
    missing: string;
    errors: string;
    /** Output lines that are not valid JSON or off-schema (collect skips them here). */
    invalid: string;
    summary: string;
  };
  aws: { region?: string; profile?: string; s3Endpoint?: string; personalizeEndpoint?: string };
}

export const PIPELINE_DEFAULTS = {
  onInvalid: 'skip',
  validate: true,
  format: 'csv-long',
  jobNamePrefix: 'pb',
  maxRunning: 5,
  retryFailed: 0,
  pollIntervalMs: 60_000,
  escapeFormulas: true,
  lineEnding: 'crlf',
} as const;

/** Where each part of a run goes under the work prefix (also the scope of the IAM policy in the README). */
export function workLayout(work: string): {
  input: string;
  manifest: string;
  output: string;
  state: string;
  run: string;
} {
  return {
    input: `${work}input/`,
    manifest: `${work}input/manifest.json`,
    output: `${work}output/`,
    state: `${work}output/state.json`,
    run: `${work}run.json`,
  };
}

/** Reads, checks and resolves a pipeline file (local or s3://). */
export async function loadPipeline(file: string): Promise<Pipeline> {
  let value: unknown;
  try {
    value = await readJsonDoc(file);
  } catch (err) {
    if (!(err instanceof PbError)) throw err;
    // A pipeline file that cannot be read or parsed is the user's to fix: a usage error (exit 2).
    throw new PbError('PB_USAGE', await describeReadError(file, err), { file }, { cause: err });
  }
  return resolvePipeline(value, file);
}

/** "not valid JSON ... at position 49" as "line 3, column 5: ...", where the text can be read again. */
async function describeReadError(file: string, err: PbError): Promise<string> {
  const at = /at position (\d+)/.exec(err.reason);
  if (err.code !== 'PB_PARSE' || !at || isS3Uri(file)) return err.reason;
  const text = await readFile(file, 'utf8').catch(() => '');
  const before = text.slice(0, Number(at[1])).split('\n');
  return `line ${before.length}, column ${(before.at(-1) ?? '').length + 1}: ${err.reason.replace(/ in JSON at position \d+.*$/, '')}`;
}

/**
 * Checks a pipeline value and resolves it; `file` names it in messages and anchors relative paths.
 * Every problem comes in one report: the schema's, and the rules' on every field the schema let
 * through (a recipe typo and a weight out of range are not left for the next run to find).
 */
export function resolvePipeline(value: unknown, file: string): Pipeline {
  const check = configValidator('pipeline.schema.json');
  const schemaProblems: string[] = [];
  if (!check(value)) {
    // A oneOf's branches each report why they did not match; the oneOf's own error says it better.
    const errors = (check.errors ?? []).filter((e) => !/\/oneOf\/\d+\//.test(e.schemaPath));
    schemaProblems.push(...new Set(errors.map(describeSchemaError)));
  }
  const lenient = schemaProblems.length > 0;
  const problems: string[] = [];
  let resolved: Pipeline | undefined;
  try {
    resolved = resolveChecked(
      (value !== null && typeof value === 'object' ? value : {}) as PipelineFile,
      file,
      problems,
      lenient,
    );
  } catch (err) {
    // A shape the schema refused can break a rule's reading of it: the schema's report says why.
    if (!lenient || err instanceof PbError) throw err;
  }
  const pathOf = (problem: string) => problem.slice(0, problem.indexOf(': '));
  const reported = new Set(schemaProblems.map(pathOf));
  const all = [...schemaProblems, ...problems.filter((x) => !reported.has(pathOf(x)))];
  if (all.length > 0 || !resolved) throw pipelineError(file, all);
  return resolved;
}

/** The rules a schema cannot say, and the resolved pipeline (undefined when a problem was found). */
function resolveChecked(
  p: PipelineFile,
  file: string,
  problems: string[],
  lenient: boolean,
): Pipeline | undefined {
  const at = <T>(path: string, fn: () => T): T | undefined => {
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
  };
  const base = isS3Uri(file) ? undefined : dirname(resolve(file));
  const place = (path: string) =>
    isS3Uri(path) || path === '-' || !base || isAbsolute(path) ? path : join(base, path);

  const family = at('$.recipe', () => resolveFamily(p.recipe));
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
  if (sources.includes('-'))
    problems.push('$.input.sources: stdin (-) cannot be read again on resume; give files');
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

  const o = p.output ?? ({ dir: '.' } as PipelineFile['output']);
  const dir = place(typeof o.dir === 'string' ? o.dir : '.');
  const format = o.format ?? PIPELINE_DEFAULTS.format;
  const inDir = (name: string) =>
    isS3Uri(dir) ? `${dir.endsWith('/') ? dir : `${dir}/`}${name}` : join(dir, name);
  const workGiven = typeof p.work === 'string' ? p.work : '';
  const work = workGiven.endsWith('/') ? workGiven : `${workGiven}/`;
  // The longest path a job gets is WORK/output/shard-NNNNN/; the service takes 256 characters.
  if (work.length + 'output/shard-00000/'.length > 256)
    problems.push(
      `$.work: at most ${256 - 'output/shard-00000/'.length} characters (job paths under it must fit 256)`,
    );
  const output: Pipeline['output'] = {
    dir,
    format,
    file: inDir(
      o.file ?? `${family?.segment ? 'segments' : 'recommendations'}.${format === 'jsonl' ? 'jsonl' : 'csv'}`,
    ),
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
    escapeFormulas: o.escapeFormulas ?? PIPELINE_DEFAULTS.escapeFormulas,
    lineEnding: o.lineEnding ?? PIPELINE_DEFAULTS.lineEnding,
    merged: o.merged === undefined ? `${work}merged.jsonl` : place(o.merged),
    rejects: inDir('rejects.jsonl'),
    missing: inDir('missing.jsonl'),
    errors: inDir('errors.jsonl'),
    invalid: inDir('invalid-output.jsonl'),
    summary: inDir('summary.json'),
  };
  if (o.catalogColumns && !o.catalog) problems.push('$.output.catalogColumns: needs $.output.catalog');
  if (o.catalog !== undefined && family?.segment)
    problems.push(
      `$.output.catalog: ${family.family} jobs return users for each item, and a catalog joins recommended items: leave it out`,
    );
  const badCatalogEncoding = o.catalogEncoding === undefined ? undefined : encodingProblem(o.catalogEncoding);
  if (badCatalogEncoding) problems.push(`$.output.catalogEncoding: ${badCatalogEncoding}`);
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

function size(v: number | string, name: string): number {
  return typeof v === 'number' ? v : parseBytes(v, name);
}

function count(v: number | string, name: string): number {
  return typeof v === 'number' ? v : parseCount(v, name);
}

/** The CLI option names checkJobOptions uses, as the pipeline's JSON paths. */
function jobField(field: string | undefined): string {
  if (!field) return '$.jobs';
  const camel = field.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const renamed: Record<string, string> = { themeItemName: 'themeItemNameColumn', tag: 'tags' };
  return `$.jobs.${renamed[camel] ?? camel}`;
}

function pipelineError(file: string, problems: readonly string[]): PbError {
  const list =
    problems.length === 1
      ? (problems[0] as string)
      : `${problems.length} problems:\n  ${problems.join('\n  ')}`;
  return new PbError('PB_USAGE', list, { file });
}

/** `/jobs/numResults` as `$.jobs.numResults`, `/input/sources/0` as `$.input.sources[0]`. */
export function jsonPath(pointer: string): string {
  let path = '$';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) path += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) path += `.${part}`;
    else path += `[${JSON.stringify(part)}]`;
  }
  return path;
}

/** One ajv error in plain words, behind the JSON path it is about. */
function describeSchemaError(e: ErrorObject): string {
  const path = jsonPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${jsonPath(`${e.instancePath}/${String(params.missingProperty)}`)}: is required`;
    case 'additionalProperties':
      return `${jsonPath(`${e.instancePath}/${String(params.additionalProperty)}`)}: unknown field`;
    case 'enum':
      return `${path}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${path}: must be ${JSON.stringify(params.allowedValue)}`;
    case 'oneOf':
      return `${path}: ${ONE_OF_HINT[e.schemaPath.split('/').slice(-2, -1)[0] ?? ''] ?? 'has the wrong type'}`;
    case 'pattern':
      return `${path}: ${PATTERN_HINT[e.schemaPath] ?? `does not match ${String(params.pattern)}`}`;
    default:
      return `${path}: ${e.message ?? 'is not valid'}`;
  }
}

const ONE_OF_HINT: Record<string, string> = {
  size: 'must be a number of bytes or a size such as "500MB"',
  count: 'must be a whole number or a count such as "10M"',
  duration: 'must be seconds or a duration such as "60s"',
};

const PATTERN_HINT: Record<string, string> = {
  '#/definitions/s3Prefix/pattern': 'must be an S3 prefix such as s3://bucket/prefix/',
  '#/definitions/arn/pattern': 'must be an ARN (arn:aws:...)',
  '#/properties/jobs/properties/jobNamePrefix/pattern':
    'must be 1 to 30 letters, digits, - or _, starting with a letter or digit',
  '#/properties/aws/properties/region/pattern': 'must be a region such as us-east-1',
};
