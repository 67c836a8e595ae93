// The steps of a full run, each reading and recording its part of WORK/run.json.
import { mkdir } from 'node:fs/promises';
import { isParquetFormat } from '../../core/out-convert.js';
import { count } from '../../core/units.js';
import { PbError } from '../../errors.js';
import type { PersonalizeConnection } from '../../io/clients.js';
import { readJsonDoc, removeDoc, writeJsonDoc } from '../../io/doc.js';
import { removeStaleTemporaryFiles, writeOutput } from '../../io/output.js';
import { isS3Uri } from '../../io/s3.js';
import { collect } from '../collect/index.js';
import { checkCatalog, checkUsers, type ExportOptions, exportOutputs } from '../export/index.js';
import { type JobRow, submit } from '../jobs/index.js';
import { normalizeStatus } from '../jobs/model.js';
import { prepare } from '../prepare/index.js';
import type { Manifest } from '../shard/index.js';
import { validateFiles } from '../validate/index.js';
import { keepHistory, newestHistory } from './history.js';
import { type Pipeline, workLayout } from './pipeline.js';
import { PIPELINE_CATALOG_NAMES, PIPELINE_USERS_NAMES, preflight, prepareOptions } from './preflight.js';
import {
  allExist,
  anyJobIn,
  changed,
  collectOf,
  concatSources,
  exportOf,
  fingerprints,
  jobsOf,
  keyOf,
  prepareKeyOf,
  recordsOf,
  shardsOf,
} from './records.js';
import type { RunEvent, RunRecord, RunSummary } from './types.js';

/** What each step of a full run reads and writes: the pipeline, the run's record and summary. */
export interface RunContext {
  p: Pipeline;
  layout: ReturnType<typeof workLayout>;
  summary: RunSummary;
  record: RunRecord;
  emit: (e: RunEvent) => void;
  /** Each step's warnings reach the console as they come, as the step's own command prints them. */
  warn: (messages: readonly string[]) => void;
  /** Writes WORK/run.json. */
  save: () => Promise<void>;
}

/** The run's record (WORK/run.json), read or begun, and the context the steps share. */
export async function openRun(
  p: Pipeline,
  summary: RunSummary,
  emit: (e: RunEvent) => void,
): Promise<RunContext> {
  const layout = workLayout(p.work);
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
  return {
    p,
    layout,
    summary,
    record,
    emit,
    warn: (messages) => {
      for (const message of messages) {
        summary.warnings.push(message);
        emit({ type: 'warning', message });
      }
    },
    save: async () => {
      record.updatedAt = new Date().toISOString();
      await writeJsonDoc(layout.run, record);
    },
  };
}

/**
 * 1. prepare → shards on S3 (validation of each record and the rejects file are prepare's). Shards
 * are never remade once a job may read them; until then, changed settings just redo them.
 */
export async function prepareStep(ctx: RunContext): Promise<{ prepareKey: string; jobsExist: boolean }> {
  const { p, layout, summary, record } = ctx;
  const jobsExist = await anyJobIn(layout.state);
  const prepareKey = prepareKeyOf(p);
  const sources = await fingerprints(p.input.sources);
  const sourcesChanged =
    record.prepare?.sources !== undefined &&
    JSON.stringify(record.prepare.sources) !== JSON.stringify(sources);
  forgetStaleShards(ctx, prepareKey, jobsExist, sourcesChanged);
  if (record.prepare) {
    summary.resumed.push('prepare');
    ctx.emit({
      type: 'stage',
      stage: 'prepare',
      reused: true,
      detail: `${count(record.prepare.shards.count, 'shard')} from ${record.prepare.at}`,
    });
    if (sourcesChanged)
      ctx.warn([
        `the sources changed since the shards were made (${record.prepare.at}); this run goes on with those shards. For the new data, give this pipeline a new $.work prefix`,
      ]);
  } else await makeShards(ctx, prepareKey, sources);
  const made = record.prepare as NonNullable<RunRecord['prepare']>;
  summary.records = made.records;
  summary.inputs = made.inputs ?? [];
  ctx.warn(made.warnings ?? []);
  summary.shards = made.shards;
  // Listed even when empty (prepare writes it whenever rows may be rejected), as errors.jsonl is.
  if (summary.records.rejected > 0 || made.rejects) summary.files.rejects = made.rejects ?? p.output.rejects;
  return { prepareKey, jobsExist };
}

/** Drops the record of shards no job reads that new data or settings replace; refuses once jobs exist. */
function forgetStaleShards(
  ctx: RunContext,
  prepareKey: string,
  jobsExist: boolean,
  sourcesChanged: boolean,
): void {
  const { layout, record } = ctx;
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
}

/** Checks the sources, prepares them into shards under WORK/input/ and records them. */
async function makeShards(ctx: RunContext, prepareKey: string, sources: string[]): Promise<void> {
  const { p, layout, record } = ctx;
  await preflight(p);
  ctx.emit({
    type: 'stage',
    stage: 'prepare',
    reused: false,
    detail: `${count(p.input.sources.length, 'source')} to ${layout.input}`,
  });
  const prepared = await prepare({
    ...prepareOptions(p),
    shardOut: layout.input,
    // Anything under input/ is a leftover of an interrupted prepare: no job reads it (checked before).
    force: true,
    onProgress: (x) =>
      ctx.emit({ type: 'progress', stage: 'prepare', records: x.recordsRead, bytes: x.bytesRead }),
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
  await ctx.save();
}

/** 2. validate what the jobs will read, as uploaded, before paying for any job. */
export async function validateStep(ctx: RunContext, prepareKey: string): Promise<void> {
  const { p, layout, summary, record } = ctx;
  if (!p.validate) return;
  if (record.validate?.key === prepareKey) {
    summary.resumed.push('validate');
    ctx.emit({
      type: 'stage',
      stage: 'validate',
      reused: true,
      detail: count(record.validate.records, 'record'),
    });
    return;
  }
  ctx.emit({ type: 'stage', stage: 'validate', reused: false, detail: count(summary.shards.count, 'shard') });
  const check = await validateFiles({
    recipe: p.family.family,
    // The manifest, so the job quotas (files, bytes) are checked per shard, as each job reads one.
    files: [layout.manifest],
    maxItemList: p.input.maxItemList,
    // The check holds the shards to the rules prepare wrote them by.
    allowEmailIds: p.input.allowEmailIds,
    onProblem: (message) => ctx.emit({ type: 'problem', message }),
  });
  if (check.problems > 0)
    throw new PbError(
      'PB_INVALID_RECORD',
      `${count(check.problems, 'problem')} in the uploaded shards (listed above); no job was created`,
      { file: layout.input },
    );
  if (check.records !== summary.shards.records)
    throw new PbError(
      'PB_IO',
      `the uploaded shards hold ${check.records} records, the manifest says ${summary.shards.records}; no job was created`,
      { file: layout.manifest },
    );
  record.validate = { key: prepareKey, at: new Date().toISOString(), records: check.records };
  await ctx.save();
}

/** The jobs' Personalize connection and the run's signal (the S3 client reaches submit in scope). */
export interface JobsConnection {
  personalize: PersonalizeConnection;
  signal?: AbortSignal;
}

/**
 * 3. jobs: one per shard, resumable through their own state file. The export's catalog settings are
 * checked against the file first: a wrong column name must not show after the jobs are paid for.
 * Undefined when no job succeeded (every record is then in missing.jsonl).
 */
export async function jobsStep(
  ctx: RunContext,
  prepareKey: string,
  jobsExist: boolean,
  connection: JobsConnection,
): Promise<{ jobsKey: string; active: JobRow[] } | undefined> {
  const { p, layout, summary, record } = ctx;
  if (p.output.catalog !== undefined && !record.jobs) await checkCatalog(p.output, PIPELINE_CATALOG_NAMES);
  if (p.output.users !== undefined && !record.jobs) await checkUsers(p.output, PIPELINE_USERS_NAMES);
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
    await ctx.save();
  }
  ctx.emit({
    type: 'stage',
    stage: 'jobs',
    reused: false,
    detail: `${count(summary.shards.count, 'shard')}, state ${layout.state}`,
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
    ...connection,
    onEvent: (e) => {
      ctx.emit({ type: 'job', event: e });
      if (e.type === 'progress') ctx.emit({ type: 'jobs', counts: e.counts, total: summary.shards.count });
    },
  });
  summary.jobs = jobsOf(jobs);
  const active = jobs.jobs.filter((j) => normalizeStatus(j.status) === 'ACTIVE');
  for (const f of summary.jobs.failures)
    summary.advice.push(
      `shard ${f.shard} (job ${f.name}) failed: ${f.reason}; its records are in ${p.output.missing}`,
    );
  if (summary.jobs.failures.length > 0) summary.advice.push(resubmitAdvice(p));
  if (active.length > 0) return { jobsKey, active };
  // Nothing to collect: every input record is missing, byte for byte as uploaded.
  await writeOutput(p.output.missing, undefined, concatSources(summary.shards.uris));
  summary.files.missing = p.output.missing;
  summary.exitCode = 1;
  summary.advice.push('no job succeeded: nothing to collect or export');
  return undefined;
}

/** What to do with missing.jsonl (batch input) after failed jobs or missing records. */
function resubmitAdvice(p: Pipeline): string {
  return `missing.jsonl is batch input: shard and submit it (personalize-batch shard ${p.output.missing} -o ${p.work}retry/, then submit), or fix the cause, raise $.jobs.retryFailed and run again`;
}

/** 4. collect: merge the outputs of the jobs that succeeded, reconcile with the input. */
export async function collectStep(ctx: RunContext, jobsKey: string, active: JobRow[]): Promise<string> {
  const { p, layout, summary, record } = ctx;
  const collectKey = keyOf({
    jobsKey,
    arns: active.map((j) => j.arn),
    merged: p.output.merged,
    dir: p.output.dir,
  });
  if (record.collect?.key === collectKey && (await allExist([p.output.merged, p.output.missing]))) {
    summary.resumed.push('collect');
    ctx.emit({
      type: 'stage',
      stage: 'collect',
      reused: true,
      detail: count(record.collect.summary.written, 'line'),
    });
  } else {
    ctx.emit({
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
    await ctx.save();
  }
  summary.collect = record.collect.summary;
  ctx.warn(record.collect.warnings ?? []);
  summary.files.merged = p.output.merged;
  summary.files.missing = p.output.missing;
  // Listed even when empty: collect wrote it (empty), so that an earlier run's errors never stay behind.
  summary.files.errors = p.output.errors;
  if (summary.collect.invalid > 0) summary.files.invalid = p.output.invalid;
  return collectKey;
}

/** 5. export the merged lines. */
export async function exportStep(ctx: RunContext, collectKey: string): Promise<void> {
  const { p, summary, record } = ctx;
  const o = p.output;
  // The catalog's size and date too: an edited Items file is joined again.
  const catalog = o.catalog ? await fingerprints([o.catalog]) : [];
  const users = o.users ? await fingerprints([o.users]) : [];
  const since = await sinceOf(ctx);
  const interactions = o.mapUsers ? await fingerprints([o.mapUsers]) : [];
  const exportKey = keyOf({
    collectKey,
    output: { ...o, rejects: undefined },
    catalog,
    ...(o.mapUsers ? { interactions } : {}),
    ...(o.users ? { users, memoryBudget: p.input.memoryBudget } : {}),
    ...(since ? { since, prev: await fingerprints([since]) } : {}),
  });
  if (record.export?.key === exportKey && (await allExist(record.export.parts ?? [o.file]))) {
    summary.resumed.push('export');
    ctx.emit({ type: 'stage', stage: 'export', reused: true, detail: o.file });
  } else {
    ctx.emit({ type: 'stage', stage: 'export', reused: false, detail: `${o.format} to ${o.file}` });
    const e = await exportOutputs(exportOptionsOf(ctx, since));
    const at = new Date();
    // Kept after the export succeeded: an entry in the history is a run whose export was written.
    const history = o.history ? await keepHistory(o.merged, o.history, at) : undefined;
    record.export = {
      key: exportKey,
      at: at.toISOString(),
      summary: exportOf(e),
      warnings: e.warnings,
      ...(e.parts ? { parts: e.parts } : {}),
      ...(history ? { history } : {}),
      ...(since ? { prev: since } : {}),
    };
    await ctx.save();
  }
  summary.export = record.export.summary;
  ctx.warn(record.export.warnings ?? []);
  summary.files.export = o.file;
  if (record.export.parts) summary.files.exportParts = record.export.parts;
  if (record.export.summary.since && o.removed) summary.files.removed = o.removed;
  if (record.export.history) summary.files.history = record.export.history;
}

/** export's options from the pipeline's output section (and the previous export, for since). */
function exportOptionsOf(ctx: RunContext, since: string | undefined): ExportOptions {
  const { p } = ctx;
  const o = p.output;
  return {
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
    users: o.users,
    userKey: o.userKey,
    userFields: o.userFields,
    usersDelimiter: o.usersDelimiter,
    usersEncoding: o.usersEncoding,
    usersRequired: o.usersRequired,
    // One budget for the pipeline: prepare's dedupe keys, export's users table.
    memoryBudget: p.input.memoryBudget,
    escapeFormulas: o.escapeFormulas,
    // A pipeline always has a line ending (crlf by default); Parquet has no lines.
    lineEnding: isParquetFormat(o.format) ? undefined : o.lineEnding,
    bom: o.bom,
    rename: o.rename,
    partitionBy: o.partitionBy === undefined ? undefined : { ...o.partitionBy },
    maxFileSize: o.maxFileSize,
    maxCellBytes: o.maxCellBytes,
    since,
    removed: since ? o.removed : undefined,
    sinceScores: since ? o.sinceScores : undefined,
    mapUsers: o.mapUsers,
    mapUserColumn: o.mapUserColumn,
    mapItemColumn: o.mapItemColumn,
    mapPick: o.mapPick,
    mapTimeColumn: o.mapTimeColumn,
    excludeSeen: o.excludeSeen,
    ...(o.mapUsers ? { rejects: o.mapRejects } : {}),
    // collect already moved error lines to errors.jsonl and invalid ones aside.
    errors: o.errors,
    tmpDir: p.input.tmpDir,
    onProgress: (x) => ctx.emit({ type: 'progress', stage: 'export', lines: x.lines, bytes: x.bytesRead }),
  };
}

/**
 * The previous export to compare with: output.since as given, or for "last" the newest run kept
 * in the history (none on a first run: everything is exported, and a warning says why).
 */
async function sinceOf(ctx: RunContext): Promise<string | undefined> {
  const o = ctx.p.output;
  if (o.since !== 'last') return o.since;
  const newest = o.history ? await newestHistory(o.history) : undefined;
  // A run whose export is done (its entry the newest) compares with what it compared with then.
  const done = ctx.record.export;
  if (newest !== undefined && done?.history === newest) return done.prev;
  const prev = newest;
  if (prev === undefined)
    ctx.warn([
      `output.since "last": no earlier run in ${o.history}: this export holds every key, and the next run compares with it`,
    ]);
  return prev;
}

/** What to do next, and the exit code, from what collect found. */
export function finish(ctx: RunContext): void {
  const { p, summary } = ctx;
  const c = summary.collect;
  if (!c) return;
  const o = p.output;
  if (c.missing > 0 && summary.jobs.failed === 0)
    summary.advice.push(
      `${count(c.missing, 'input record')} ${c.missing === 1 ? 'has' : 'have'} no output line: they are in ${o.missing}. ${resubmitAdvice(p)}`,
    );
  if (c.errorKeys > 0)
    summary.advice.push(
      `${count(c.errorKeys, 'record')} ${c.errorKeys === 1 ? 'was' : 'were'} refused by the service: see ${o.errors} for each reason`,
    );
  if (c.invalid > 0)
    summary.advice.push(`${count(c.invalid, 'output line')} could not be read: see ${o.invalid}`);
  if (summary.jobs.failed > 0 || c.missing > 0 || c.errorKeys > 0 || c.invalid > 0) summary.exitCode = 1;
}
