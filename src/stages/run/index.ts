/**
 * `run`: prepare (with validation and sharding) → upload → check → submit and
 * wait → collect → export, from one pipeline file, resumable at every step.
 *
 * What makes it resumable is `WORK/run.json`, written after each stage with
 * a key (a hash of the settings the stage depends on) and the stage's facts:
 *
 * - prepare: redone from the sources until it is recorded; once recorded the
 *   shards are never touched again, since jobs may be reading them. Changed
 *   input or shard settings after that are an error (use a new work prefix).
 * - jobs: submit() keeps its own state file, written ahead of every Create
 *   call, so a rerun finds every job, whatever moment the process died in.
 * - collect and export: atomic outputs, recorded with a key that includes
 *   every job ARN; redone when the jobs or the settings changed.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { PbError } from '../../errors.js';
import { readJsonDoc, removeDoc, writeJsonDoc } from '../../io/doc.js';
import { openSource } from '../../io/input.js';
import { removeStaleTemporaryFiles, writeOutput } from '../../io/output.js';
import {
  configureS3,
  defaultS3Client,
  isS3Uri,
  listS3,
  type S3Options,
  s3ObjectExists,
  s3Settings,
} from '../../io/s3.js';
import { type CollectSummary, collect } from '../collect/index.js';
import { checkCatalog, type ExportSummary, exportOutputs } from '../export/index.js';
import { type JobState, jobName, normalizeStatus, regionOfArn, runIdFor, shardUris } from '../jobs/model.js';
import { defined, type JobEvent, type JobsSummary, type StatusCounts, submit } from '../jobs/orchestrate.js';
import type { PersonalizeSettings } from '../jobs/service.js';
import {
  checkSources,
  type InputDetection,
  type PrepareOptions,
  type PrepareSummary,
  prepare,
} from '../prepare/index.js';
import { type Manifest, shardName } from '../shard/index.js';
import { validateFiles } from '../validate/index.js';
import { loadPipeline, PIPELINE_OPTION_NAMES, type Pipeline, workLayout } from './pipeline.js';

export type Stage = 'prepare' | 'validate' | 'jobs' | 'collect' | 'export';

export type RunEvent =
  | { type: 'stage'; stage: Stage; reused: boolean; detail: string }
  | { type: 'progress'; stage: 'prepare'; records: number; bytes: number }
  | { type: 'progress'; stage: 'export'; lines: number; bytes: number }
  | { type: 'jobs'; counts: StatusCounts; total: number }
  | { type: 'problem'; message: string }
  /** A step's warning, as the step's own command prints it; also in the summary's warnings. */
  | { type: 'warning'; message: string }
  | { type: 'job'; event: JobEvent };

export interface RunOptions {
  /** The pipeline file (local or s3://), or one already loaded. */
  pipeline: string | Pipeline;
  /** Work out the plan (reading and sharding the input in a local temporary folder) without uploading or creating anything. */
  dryRun?: boolean;
  /** S3 settings that win over the pipeline's `aws` section (the CLI's --region, --endpoint-url, --profile). */
  s3?: S3Options;
  personalize?: PersonalizeSettings;
  onEvent?: (e: RunEvent) => void;
}

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
  export: { format: string; records: number; rows: number; catalogMissing: number } | null;
  files: {
    export: string | null;
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

interface StageRecord {
  key: string;
  at: string;
}

interface RunRecord {
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
  export?: StageRecord & { summary: NonNullable<RunSummary['export']>; warnings?: string[] };
}

/** Runs (or resumes) a pipeline; throws PbError for usage, data and service errors, returns exit code 1 for failed jobs or missing records. */
export async function runPipeline(options: RunOptions): Promise<RunSummary> {
  const started = process.hrtime.bigint();
  const p = typeof options.pipeline === 'string' ? await loadPipeline(options.pipeline) : options.pipeline;
  const emit = options.onEvent ?? (() => {});
  const previousS3 = s3Settings();
  const arnRegion = regionOfArn(p.jobs.solutionVersionArn);
  const envRegion = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const s3 = {
    // The work bucket must be in the model's region: a better guess than us-east-1.
    region: p.aws.region ?? (envRegion ? undefined : arnRegion),
    profile: p.aws.profile,
    endpoint: p.aws.s3Endpoint,
    ...defined(options.s3 ?? {}),
  };
  const reconfigure = Object.values(s3).some((v) => v !== undefined);
  if (reconfigure) configureS3({ ...previousS3, ...defined(s3) });
  const personalize: PersonalizeSettings = {
    // Jobs go where the model is unless the pipeline or the CLI says otherwise.
    region: p.aws.region ?? arnRegion,
    profile: p.aws.profile,
    endpoint: p.aws.personalizeEndpoint,
    ...defined(options.personalize ?? {}),
  };
  try {
    const layout = workLayout(p.work);
    const summary = emptySummary(p, options.dryRun === true);
    if (options.dryRun) await dryRun(p, summary, emit);
    else await fullRun(p, layout, summary, personalize, emit);
    summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (!options.dryRun) {
      summary.files.summary = p.output.summary;
      await writeJsonDoc(p.output.summary, summary);
    }
    return summary;
  } finally {
    if (reconfigure) configureS3(previousS3);
  }
}

async function fullRun(
  p: Pipeline,
  layout: ReturnType<typeof workLayout>,
  summary: RunSummary,
  personalize: PersonalizeSettings,
  emit: (e: RunEvent) => void,
): Promise<void> {
  // Each step's warnings reach the console as they come, as the step's own command prints them.
  const warn = (messages: readonly string[]) => {
    for (const message of messages) {
      summary.warnings.push(message);
      emit({ type: 'warning', message });
    }
  };
  if (!isS3Uri(p.output.dir)) {
    await mkdir(p.output.dir, { recursive: true });
    await removeStaleTemporaryFiles(p.output.dir);
  }
  const now = new Date().toISOString();
  const record: RunRecord = ((await readJsonDoc(layout.run, true)) as RunRecord | undefined) ?? {
    version: 1,
    pipeline: p.file,
    createdAt: now,
    updatedAt: now,
  };
  if (record.version !== 1)
    throw new PbError('PB_USAGE', 'not a run record of this version', { file: layout.run });
  const save = async () => {
    record.updatedAt = new Date().toISOString();
    await writeJsonDoc(layout.run, record);
  };

  // 1. prepare → shards on S3 (validation of each record and the rejects file are prepare's).
  // Shards are never remade once a job may read them; until then, changed settings just redo them.
  const jobsExist = await anyJobIn(layout.state);
  const prepareKey = prepareKeyOf(p);
  const sources = await fingerprints(p.input.sources);
  const sourcesChanged =
    record.prepare?.sources !== undefined &&
    JSON.stringify(record.prepare.sources) !== JSON.stringify(sources);
  if (record.prepare && !jobsExist && sourcesChanged) {
    // New data and no job yet: shard the new data.
    record.prepare = undefined;
    record.validate = undefined;
  }
  if (record.prepare && record.prepare.key !== prepareKey) {
    if (jobsExist)
      throw changed(
        '$.recipe, $.input or $.shards',
        'the shards were made and jobs created for them',
        record.prepare.at,
        layout.run,
      );
    // No job was created from these shards: make them again with the new settings.
    record.prepare = undefined;
    record.validate = undefined;
  }
  if (!record.prepare && jobsExist)
    throw new PbError(
      'PB_USAGE',
      `${layout.state} lists jobs, but ${layout.run} does not record the shards they read; not remaking them. Restore run.json, or give this pipeline a new $.work prefix`,
      { file: layout.run },
    );
  if (record.prepare) {
    summary.resumed.push('prepare');
    emit({
      type: 'stage',
      stage: 'prepare',
      reused: true,
      detail: `${record.prepare.shards.count} shards from ${record.prepare.at}`,
    });
    if (sourcesChanged)
      warn([
        `the sources changed since the shards were made (${record.prepare.at}); this run goes on with those shards. For the new data, give this pipeline a new $.work prefix`,
      ]);
  } else {
    await preflight(p);
    emit({
      type: 'stage',
      stage: 'prepare',
      reused: false,
      detail: `${p.input.sources.length} source(s) to ${layout.input}`,
    });
    const prepared = await prepare({
      ...prepareOptions(p),
      shardOut: layout.input,
      // Anything under input/ is a leftover of an interrupted prepare: no job reads it (checked above).
      force: true,
      onProgress: (x) =>
        emit({ type: 'progress', stage: 'prepare', records: x.recordsRead, bytes: x.bytesRead }),
    });
    const manifest = (await readJsonDoc(layout.manifest)) as Manifest;
    record.prepare = {
      key: prepareKey,
      at: new Date().toISOString(),
      manifest: layout.manifest,
      records: recordsOf(prepared),
      shards: shardsOf(manifest, layout.manifest),
      warnings: prepared.warnings,
      inputs: prepared.inputs,
      rejects: p.input.onInvalid === 'skip' ? p.output.rejects : null,
      sources,
    };
    await save();
  }
  summary.records = record.prepare.records;
  summary.inputs = record.prepare.inputs ?? [];
  warn(record.prepare.warnings ?? []);
  summary.shards = record.prepare.shards;
  if (summary.records.rejected > 0) summary.files.rejects = record.prepare.rejects ?? p.output.rejects;
  if (summary.shards.records === 0) {
    stopWithoutRecords(p, summary);
    return;
  }

  // 2. validate what the jobs will read, as uploaded, before paying for any job.
  if (p.validate) {
    if (record.validate?.key === prepareKey) {
      summary.resumed.push('validate');
      emit({ type: 'stage', stage: 'validate', reused: true, detail: `${record.validate.records} records` });
    } else {
      emit({ type: 'stage', stage: 'validate', reused: false, detail: `${summary.shards.count} shards` });
      const check = await validateFiles({
        recipe: p.family.family,
        // The manifest, so the job quotas (files, bytes) are checked per shard, as each job reads one.
        files: [layout.manifest],
        maxItemList: p.input.maxItemList,
        // The check holds the shards to the rules prepare wrote them by.
        allowEmailIds: p.input.allowEmailIds,
        onProblem: (message) => emit({ type: 'problem', message }),
      });
      if (check.problems > 0)
        throw new PbError(
          'PB_INVALID_RECORD',
          `${check.problems} problem(s) in the uploaded shards (listed above); no job was created`,
          { file: layout.input },
        );
      if (check.records !== summary.shards.records)
        throw new PbError(
          'PB_IO',
          `the uploaded shards hold ${check.records} records, the manifest says ${summary.shards.records}; no job was created`,
          { file: layout.manifest },
        );
      record.validate = { key: prepareKey, at: new Date().toISOString(), records: check.records };
      await save();
    }
  }

  // 3. jobs: one per shard, resumable through their own state file. The export's catalog settings
  // are checked against the file first: a wrong column name must not show after the jobs are paid for.
  if (p.output.catalog !== undefined && !record.jobs) await checkCatalog(p.output, PIPELINE_CATALOG_NAMES);
  const { jobNamePrefix, maxRunning, retryFailed, pollIntervalMs, ...jobOptions } = p.jobs;
  const jobsKey = keyOf({ prepareKey, jobOptions, jobNamePrefix });
  if (record.jobs && record.jobs.key !== jobsKey) {
    if (jobsExist) throw changed('$.jobs', 'the jobs were created', record.jobs.at, layout.run);
    // Every Create call was refused (a wrong role, filter or key, since fixed): nothing to keep.
    await removeDoc(layout.state);
    record.jobs = undefined;
  }
  if (!record.jobs) {
    record.jobs = { key: jobsKey, at: new Date().toISOString() };
    await save();
  }
  emit({
    type: 'stage',
    stage: 'jobs',
    reused: false,
    detail: `${summary.shards.count} shards, state ${layout.state}`,
  });
  const jobs = await submit({
    ...jobOptions,
    manifest: layout.manifest,
    output: layout.output,
    state: layout.state,
    jobNamePrefix,
    maxRunning,
    retryFailed,
    pollIntervalMs,
    wait: true,
    personalize,
    onEvent: (e) => {
      emit({ type: 'job', event: e });
      if (e.type === 'progress') emit({ type: 'jobs', counts: e.counts, total: summary.shards.count });
    },
  });
  summary.jobs = jobsOf(jobs);
  const active = jobs.jobs.filter((j) => normalizeStatus(j.status) === 'ACTIVE');
  const resubmit = `missing.jsonl is batch input: shard and submit it (personalize-batch shard ${p.output.missing} -o ${p.work}retry/, then submit), or fix the cause, raise $.jobs.retryFailed and run again`;
  for (const f of summary.jobs.failures)
    summary.advice.push(
      `shard ${f.shard} (job ${f.name}) failed: ${f.reason}; its records are in ${p.output.missing}`,
    );
  if (summary.jobs.failures.length > 0) summary.advice.push(resubmit);
  if (active.length === 0) {
    // Nothing to collect: every input record is missing, byte for byte as uploaded.
    await writeOutput(p.output.missing, undefined, concatSources(summary.shards.uris));
    summary.files.missing = p.output.missing;
    summary.exitCode = 1;
    summary.advice.push('no job succeeded: nothing to collect or export');
    return;
  }

  // 4. collect: merge the outputs of the jobs that succeeded, reconcile with the input.
  const collectKey = keyOf({
    jobsKey,
    arns: active.map((j) => j.arn),
    merged: p.output.merged,
    dir: p.output.dir,
  });
  if (record.collect?.key === collectKey && (await allExist([p.output.merged, p.output.missing]))) {
    summary.resumed.push('collect');
    emit({
      type: 'stage',
      stage: 'collect',
      reused: true,
      detail: `${record.collect.summary.written} lines`,
    });
  } else {
    emit({
      type: 'stage',
      stage: 'collect',
      reused: false,
      detail: `${active.length} job outputs to ${p.output.merged}`,
    });
    const c = await collect({
      sources: active.map((j) => j.output),
      inputs: [layout.manifest],
      output: p.output.merged,
      missing: p.output.missing,
      errors: p.output.errors,
      onInvalid: 'skip',
      rejects: p.output.invalid,
      tmpDir: p.input.tmpDir,
    });
    record.collect = {
      key: collectKey,
      at: new Date().toISOString(),
      summary: collectOf(c),
      warnings: c.warnings,
    };
    await save();
  }
  summary.collect = record.collect.summary;
  warn(record.collect.warnings ?? []);
  summary.files.merged = p.output.merged;
  summary.files.missing = p.output.missing;
  if (summary.collect.errorKeys > 0) summary.files.errors = p.output.errors;
  if (summary.collect.invalid > 0) summary.files.invalid = p.output.invalid;

  // 5. export the merged lines.
  const o = p.output;
  // The catalog's size and date too: an edited Items file is joined again.
  const catalog = o.catalog ? await fingerprints([o.catalog]) : [];
  const exportKey = keyOf({ collectKey, output: { ...o, rejects: undefined }, catalog });
  if (record.export?.key === exportKey && (await allExist([o.file]))) {
    summary.resumed.push('export');
    emit({ type: 'stage', stage: 'export', reused: true, detail: o.file });
  } else {
    emit({ type: 'stage', stage: 'export', reused: false, detail: `${o.format} to ${o.file}` });
    const e = await exportOutputs({
      sources: [o.merged],
      output: o.file,
      format: o.format,
      top: o.top,
      catalog: o.catalog,
      catalogColumns: o.catalogColumns,
      catalogIdColumn: o.catalogIdColumn,
      catalogDelimiter: o.catalogDelimiter,
      catalogEncoding: o.catalogEncoding,
      maxCatalogItems: o.maxCatalogItems,
      escapeFormulas: o.escapeFormulas,
      lineEnding: o.lineEnding,
      // collect already moved error lines to errors.jsonl and invalid ones aside.
      errors: o.errors,
      tmpDir: p.input.tmpDir,
      onProgress: (x) => emit({ type: 'progress', stage: 'export', lines: x.lines, bytes: x.bytesRead }),
    });
    record.export = {
      key: exportKey,
      at: new Date().toISOString(),
      summary: exportOf(e),
      warnings: e.warnings,
    };
    await save();
  }
  summary.export = record.export.summary;
  warn(record.export.warnings ?? []);
  summary.files.export = o.file;

  const c = summary.collect;
  if (c.missing > 0 && summary.jobs.failed === 0)
    summary.advice.push(
      `${c.missing} input record(s) have no output line: they are in ${o.missing}. ${resubmit}`,
    );
  if (c.errorKeys > 0)
    summary.advice.push(
      `${c.errorKeys} record(s) were refused by the service: see ${o.errors} for each reason`,
    );
  if (c.invalid > 0) summary.advice.push(`${c.invalid} output line(s) could not be read: see ${o.invalid}`);
  if (summary.jobs.failed > 0 || c.missing > 0 || c.errorKeys > 0 || c.invalid > 0) summary.exitCode = 1;
}

/** The plan: the input read and sharded in a local temporary folder, job names worked out, nothing uploaded. */
async function dryRun(p: Pipeline, summary: RunSummary, emit: (e: RunEvent) => void): Promise<void> {
  const layout = workLayout(p.work);
  // Read as the run will read it: no credentials, no bucket or no endpoint shows here, not after the plan.
  const record = (await readJsonDoc(layout.run, true)) as RunRecord | undefined;
  for (const stage of ['prepare', 'validate', 'jobs', 'collect', 'export'] as const)
    if (record?.[stage]) summary.resumed.push(stage);
  summary.files = {
    export: p.output.file,
    merged: p.output.merged,
    rejects: p.output.rejects,
    missing: p.output.missing,
    errors: p.output.errors,
    invalid: p.output.invalid,
    summary: p.output.summary,
  };
  summary.jobs.state = layout.state;
  const reusable =
    record?.prepare?.key === prepareKeyOf(p) &&
    ((await anyJobIn(layout.state)) ||
      record.prepare.sources === undefined ||
      JSON.stringify(record.prepare.sources) === JSON.stringify(await fingerprints(p.input.sources)));
  if (record?.prepare && reusable) {
    // The shards exist and a run would reuse them: plan with them, and with the jobs' real names.
    emit({
      type: 'stage',
      stage: 'prepare',
      reused: true,
      detail: `dry run: the shards made ${record.prepare.at}`,
    });
    summary.records = record.prepare.records;
    summary.shards = record.prepare.shards;
    const manifest = (await readJsonDoc(layout.manifest)) as Manifest;
    const state = (await readJsonDoc(layout.state, true)) as JobState | undefined;
    const runId = runIdFor(p.jobs.solutionVersionArn, layout.output, manifest.shards);
    summary.jobs.names = manifest.shards.map(
      (sh) =>
        state?.shards.find((x) => x.index === sh.index)?.jobs.at(-1)?.name ??
        jobName(p.jobs.jobNamePrefix, runId, sh.index, 0),
    );
    if (summary.shards.records === 0) stopWithoutRecords(p, summary);
    return;
  }
  await preflight(p);
  const tmp = await mkdtemp(join(p.input.tmpDir ?? tmpdir(), 'personalize-batch-plan-'));
  try {
    emit({ type: 'stage', stage: 'prepare', reused: false, detail: 'dry run: reading the sources' });
    const prepared = await prepare({
      ...prepareOptions(p),
      rejects: p.input.onInvalid === 'skip' ? join(tmp, 'rejects.jsonl') : undefined,
      shardOut: join(tmp, 'input'),
      onProgress: (x) =>
        emit({ type: 'progress', stage: 'prepare', records: x.recordsRead, bytes: x.bytesRead }),
    });
    const manifest = (await readJsonDoc(join(tmp, 'input', 'manifest.json'))) as Manifest;
    summary.records = recordsOf(prepared);
    summary.inputs = prepared.inputs;
    for (const message of prepared.warnings) {
      summary.warnings.push(message);
      emit({ type: 'warning', message });
    }
    // Where the shards will be: the same names under the work prefix, the same bytes.
    const moved = (index: number, u: string) =>
      `${layout.input}${shardName(index)}/${u.slice(u.lastIndexOf('/') + 1)}`;
    const shards = manifest.shards.map((s) => ({
      ...s,
      uri: moved(s.index, s.uri),
      files: s.files.map((f) => ({ ...f, uri: moved(s.index, f.uri) })),
    }));
    summary.shards = shardsOf({ ...manifest, shards }, layout.manifest);
    const runId = runIdFor(p.jobs.solutionVersionArn, layout.output, manifest.shards);
    summary.jobs.names = manifest.shards.map((s) => jobName(p.jobs.jobNamePrefix, runId, s.index, 0));
    if (summary.shards.records === 0) stopWithoutRecords(p, summary);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The input gave no record to run: a job over none fails ("no input data"), and on AWS a job can be
 * neither cancelled nor deleted, so the run ends here (exit 1) and says why.
 */
function stopWithoutRecords(p: Pipeline, summary: RunSummary): void {
  const r = summary.records;
  const why: string[] = [];
  if (r.read === 0)
    why.push(
      `the source${p.input.sources.length === 1 ? '' : 's'} held no record (empty, or a header and nothing under it)`,
    );
  if (r.rejected > 0)
    why.push(
      `${r.rejected === r.read ? 'every record' : `${r.rejected} record(s)`} rejected: see ${summary.files.rejects ?? p.output.rejects} for each reason`,
    );
  if (r.inactive > 0) why.push(`${r.inactive} record(s) older than $.input.since`);
  if (why.length === 0) why.push(`${r.read} record(s) read, none written`);
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
async function preflight(p: Pipeline): Promise<void> {
  const problems = (await checkSources(prepareOptions(p))).map(
    (x) => `$.input.sources[${x.source}]: ${x.message}`,
  );
  if (p.output.catalog !== undefined) {
    try {
      await checkCatalog(p.output, PIPELINE_CATALOG_NAMES);
    } catch (err) {
      if (!(err instanceof PbError)) throw err;
      problems.push(err.message.includes('$.output.') ? err.message : `$.output.catalog: ${err.message}`);
    }
  }
  // Each problem names its own file (a source, the catalog).
  if (problems.length === 1) throw new PbError('PB_USAGE', problems[0] as string);
  if (problems.length > 1)
    throw new PbError('PB_USAGE', `${problems.length} problems:\n  ${problems.join('\n  ')}`, {
      file: p.file,
    });
}

/** Catalog messages name the pipeline file's keys. */
const PIPELINE_CATALOG_NAMES = {
  delimiter: '$.output.catalogDelimiter',
  encoding: '$.output.catalogEncoding',
  idColumn: '$.output.catalogIdColumn',
  columns: '$.output.catalogColumns',
};

function prepareOptions(p: Pipeline): PrepareOptions {
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

function emptySummary(p: Pipeline, dryRun: boolean): RunSummary {
  return {
    pipeline: p.file,
    work: p.work,
    dryRun,
    resumed: [],
    inputs: [],
    records: { read: 0, written: 0, duplicates: 0, rejected: 0, inactive: 0 },
    shards: { count: 0, manifest: workLayout(p.work).manifest, records: 0, bytes: 0, uris: [] },
    jobs: { state: workLayout(p.work).state, created: 0, active: 0, failed: 0, names: [], failures: [] },
    collect: null,
    export: null,
    files: {
      export: null,
      merged: null,
      rejects: null,
      missing: null,
      errors: null,
      invalid: null,
      summary: null,
    },
    warnings: [],
    advice: [],
    exitCode: 0,
    seconds: 0,
  };
}

function recordsOf(s: PrepareSummary): RunSummary['records'] {
  return {
    read: s.recordsRead,
    written: s.written,
    duplicates: s.duplicates,
    rejected: s.rejected,
    inactive: s.inactive,
  };
}

function shardsOf(m: Pick<Manifest, 'shards' | 'records' | 'bytes'>, manifest: string): RunSummary['shards'] {
  return {
    count: m.shards.length,
    manifest,
    records: m.records,
    bytes: m.bytes,
    uris: m.shards.flatMap(shardUris),
  };
}

function jobsOf(j: JobsSummary): RunSummary['jobs'] {
  return {
    state: j.state,
    created: j.created,
    active: j.counts.active,
    failed: j.counts.failed,
    names: j.jobs.map((r) => r.name),
    failures: j.jobs
      .filter((r) => normalizeStatus(r.status) === 'FAILED')
      .map((r) => ({ shard: r.shard, name: r.name, reason: r.failureReason ?? '(no reason given)' })),
  };
}

function collectOf(c: CollectSummary): NonNullable<RunSummary['collect']> {
  return {
    outputLines: c.outputLines,
    written: c.written,
    duplicates: c.duplicates,
    missing: c.missing,
    errorKeys: c.failedKeys,
    invalid: c.invalid,
    unexpected: c.unexpected,
  };
}

function exportOf(e: ExportSummary): NonNullable<RunSummary['export']> {
  return { format: e.format, records: e.records, rows: e.rows, catalogMissing: e.catalogMissing };
}

/** Whether a finished step's files are still there (a user may have deleted or moved them). */
async function allExist(paths: readonly string[]): Promise<boolean> {
  for (const path of paths) {
    if (isS3Uri(path)) {
      if (!(await s3ObjectExists(path))) return false;
    } else if (
      !(await stat(path).then(
        () => true,
        () => false,
      ))
    )
      return false;
  }
  return true;
}

async function* concatSources(uris: readonly string[]): AsyncGenerator<Buffer> {
  for (const uri of uris) yield* openSource(uri);
}

/** The settings the shards depend on (not where temporary files go or how much memory dedupe takes). */
function prepareKeyOf(p: Pipeline): string {
  return keyOf({
    recipe: p.family.family,
    input: {
      ...p.input,
      sources: p.input.sources.map((src) => relativeTo(p.file, src)),
      tmpDir: undefined,
      memoryBudget: undefined,
    },
    shards: p.shards,
    work: p.work,
  });
}

/** A hash of the settings a step used: key order and formatting of the pipeline file do not matter. */
function keyOf(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex').slice(0, 16);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A local source relative to the pipeline file, so a moved project folder keeps its keys. */
function relativeTo(pipelineFile: string, source: string): string {
  return isS3Uri(source) || isS3Uri(pipelineFile) ? source : relative(dirname(resolve(pipelineFile)), source);
}

/** `size:mtime` of local sources, `size:etag` of S3 objects (a prefix: of each object under it). */
async function fingerprints(sources: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const src of sources) {
    if (isS3Uri(src)) {
      const prefix = src.endsWith('/') ? src : undefined;
      for await (const o of listS3(defaultS3Client(), prefix ?? src)) {
        const uri = `s3://${o.bucket}/${o.key}`;
        if (prefix || uri === src) out.push(`${uri} ${o.size}:${o.etag ?? ''}`);
      }
    } else {
      const st = await stat(src).catch(() => undefined);
      out.push(st ? `${src} ${st.size}:${st.mtimeMs}` : `${src} missing`);
    }
  }
  return out;
}

/** Whether the jobs' state file lists any Create attempt (a job may exist). */
async function anyJobIn(statePath: string): Promise<boolean> {
  const state = (await readJsonDoc(statePath, true)) as { shards?: { jobs?: unknown[] }[] } | undefined;
  return (state?.shards ?? []).some((sh) => (sh.jobs?.length ?? 0) > 0);
}

function changed(paths: string, what: string, at: string, file: string): PbError {
  return new PbError(
    'PB_USAGE',
    `${paths} changed since ${what} (${at}); put them back, or give this pipeline a new $.work prefix to start over`,
    { file },
  );
}
