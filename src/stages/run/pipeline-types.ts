// The pipeline file as written, and as resolved for the stages; its defaults and field names.
import type { FamilyInfo } from '../../core/families.js';
import type { OutputFormat } from '../../core/out-convert.js';
import type { OptionNames } from '../../core/sniff.js';
import type { ExportOptions } from '../export/index.js';
import type { JobOptions } from '../jobs/model.js';
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
    | 'where'
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
    | 'users'
    | 'userKey'
    | 'userFields'
    | 'usersDelimiter'
    | 'usersEncoding'
    | 'usersRequired'
    | 'escapeFormulas'
    | 'lineEnding'
    | 'bom'
    | 'rename'
    | 'partitionBy'
    | 'maxCellBytes'
    | 'since'
    | 'removed'
    | 'sinceScores'
    | 'mapUsers'
    | 'mapUserColumn'
    | 'mapItemColumn'
    | 'mapPick'
    | 'mapTimeColumn'
    | 'excludeSeen'
  > & {
    dir: string;
    file?: string;
    merged?: string;
    maxFileSize?: number | string;
    history?: boolean;
    /** report.html and report.json in OUT after the export (true, the default), with report's settings, or not (false). */
    report?: boolean | PipelineReport;
  };
  aws?: { region?: string; profile?: string; s3Endpoint?: string; personalizeEndpoint?: string };
}

/** report's settings a pipeline file may give in output.report (the others come from the run). */
export interface PipelineReport {
  catalogTitleColumn?: string;
  k?: number;
  locale?: string;
  title?: string;
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
  where: '$.input.where',
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
    format: OutputFormat;
    /** The export's full path (with partitionBy, the folder the partition folders go in). */
    file: string;
    top?: number;
    catalog?: string;
    catalogColumns?: string[];
    catalogIdColumn?: string;
    catalogDelimiter?: string;
    catalogEncoding?: string;
    maxCatalogItems?: number;
    users?: string;
    userKey?: string;
    userFields?: string[];
    usersDelimiter?: string;
    usersEncoding?: string;
    usersRequired: boolean;
    escapeFormulas: boolean;
    lineEnding: 'crlf' | 'lf';
    bom?: boolean;
    rename?: Record<string, string>;
    /** Parquet: Hive partition folders, KEY to VALUE. */
    partitionBy?: Record<string, string>;
    /** Bytes; parts named as export's --max-file-size names them. */
    maxFileSize?: number;
    maxCellBytes?: number;
    /** A previous export, or `last` (the newest entry of `history`, found when the export starts). */
    since?: string;
    /** With since: where the keys gone are listed. */
    removed?: string;
    sinceScores: boolean;
    /** Where each run's merged lines are kept (OUT/history/), or undefined when output.history is false. */
    history?: string;
    /** OUT/report.html (report.json beside it) and report's settings, or undefined when output.report is false. */
    report?: PipelineReport & { html: string };
    /** export --map-users and its settings (README, "Related items per user"). */
    mapUsers?: string;
    mapUserColumn?: string;
    mapItemColumn?: string;
    mapPick?: 'latest' | 'most-frequent' | 'all';
    mapTimeColumn?: string;
    excludeSeen?: boolean;
    /** Interaction rows --map-users could not read. */
    mapRejects: string;
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
