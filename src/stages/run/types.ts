// The run's events, summary and its record in WORK/run.json (its options: options.ts).
import type { JobEvent, StatusCounts } from '../jobs/index.js';
import type { InputDetection } from '../prepare/index.js';

export type Stage = 'prepare' | 'validate' | 'jobs' | 'collect' | 'export' | 'report';

export type RunEvent =
  | { type: 'stage'; stage: Stage; reused: boolean; detail: string }
  | { type: 'progress'; stage: 'prepare'; records: number; bytes: number }
  | { type: 'progress'; stage: 'export' | 'report'; lines: number; bytes: number }
  | { type: 'jobs'; counts: StatusCounts; total: number }
  | { type: 'problem'; message: string }
  /** A step's warning, as the step's own command prints it; also in the summary's warnings. */
  | { type: 'warning'; message: string }
  | { type: 'job'; event: JobEvent };

export interface RunSummary {
  pipeline: string;
  work: string;
  dryRun: boolean;
  /** Stages reused from an earlier, interrupted run. */
  resumed: Stage[];
  /** How prepare read each source: format, delimiter, header, id column, encoding. */
  inputs: InputDetection[];
  records: {
    read: number;
    written: number;
    duplicates: number;
    rejected: number;
    inactive: number;
    /** Rows left out by $.input.where. */
    filteredOut: number;
  };
  /** `uris`: every shard file, shard by shard (several per shard for families with a small per-file quota). */
  shards: { count: number; manifest: string; records: number; bytes: number; uris: string[] };
  jobs: {
    state: string;
    created: number;
    active: number;
    failed: number;
    names: string[];
    failures: { shard: number; name: string; reason: string }[];
  };
  collect: {
    outputLines: number;
    written: number;
    duplicates: number;
    missing: number;
    errorKeys: number;
    invalid: number;
    unexpected: number;
  } | null;
  export: {
    format: string;
    records: number;
    rows: number;
    catalogMissing: number;
    /** With output.users: the users file's users (rows with a key), and the exported users it lacks (dropped: by usersRequired). */
    users?: { inFile: number; missing: number; dropped: number };
    /** With output.since: what changed against the previous export (only new and changed keys were written). */
    since?: { prev: string; new: number; changed: number; unchanged: number; removed: number };
  } | null;
  files: {
    export: string | null;
    /** With output.maxFileSize: the parts written (files.export is the name they are numbered from). */
    exportParts?: string[];
    /** With output.since: the keys the previous export had and this run lacks. */
    removed?: string;
    /** This run's merged lines, kept for the next run's since: "last". */
    history?: string;
    /** The report page (output.report); report.json beside it. */
    report?: string;
    merged: string | null;
    rejects: string | null;
    missing: string | null;
    errors: string | null;
    invalid: string | null;
    summary: string | null;
  };
  /** What prepare and collect found worth saying (as their own summaries say it). */
  warnings: string[];
  /** What to do next when the run did not end well. */
  advice: string[];
  /** 0 everything done, 1 a job failed or records are missing or in error. */
  exitCode: 0 | 1;
  seconds: number;
}

export interface StageRecord {
  key: string;
  at: string;
}

export interface RunRecord {
  version: 1;
  pipeline: string;
  createdAt: string;
  updatedAt: string;
  prepare?: StageRecord & {
    manifest: string;
    records: RunSummary['records'];
    shards: RunSummary['shards'];
    warnings: string[];
    /** How each source was read (records written before this field existed lack it). */
    inputs?: InputDetection[];
    /** Where the rejects went (the output folder may have moved since). */
    rejects?: string | null;
    /** Size and modification time (or ETag) of each source when the shards were made. */
    sources?: string[];
  };
  validate?: StageRecord & { records: number };
  /** Written before the first Create call: from then on the jobs' settings are fixed. */
  jobs?: StageRecord;
  collect?: StageRecord & { summary: NonNullable<RunSummary['collect']>; warnings: string[] };
  export?: StageRecord & {
    summary: NonNullable<RunSummary['export']>;
    warnings?: string[];
    /** With output.maxFileSize: the parts written. */
    parts?: string[];
    /** The history entry this export's merged lines were kept in. */
    history?: string;
    /** The previous export it was compared with (output.since, "last" found). */
    prev?: string;
  };
  report?: StageRecord;
}
