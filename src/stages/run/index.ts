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
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isClient, withCall } from '../../io/clients.js';
import { readJsonDoc, writeJsonDoc } from '../../io/doc.js';
import { makeTempDir } from '../../io/output.js';
import { s3Settings } from '../../io/s3.js';
import { type JobState, jobName, runIdFor } from '../jobs/model.js';
import { prepare } from '../prepare/index.js';
import { type Manifest, shardName } from '../shard/index.js';
import { type RunOptions, resolveConnections } from './options.js';
import { loadPipeline, type Pipeline, workLayout } from './pipeline.js';
import { preflight, prepareOptions, stopWithoutRecords } from './preflight.js';
import { anyJobIn, emptySummary, fingerprints, prepareKeyOf, recordsOf, shardsOf } from './records.js';
import { reportStep } from './report-step.js';
import {
  collectStep,
  exportStep,
  finish,
  type JobsConnection,
  jobsStep,
  openRun,
  prepareStep,
  validateStep,
} from './steps.js';
import type { RunEvent, RunRecord, RunSummary } from './types.js';

export type { RunConnections, RunOptions } from './options.js';
export type { RunEvent, RunSummary, Stage } from './types.js';

/** Runs (or resumes) a pipeline; throws PbError for usage, data and service errors, returns exit code 1 for failed jobs or missing records. */
export function runPipeline(options: RunOptions): Promise<RunSummary> {
  return withCall({ signal: options.signal }, () => runNow(options));
}

async function runNow(options: RunOptions): Promise<RunSummary> {
  const started = process.hrtime.bigint();
  const p = typeof options.pipeline === 'string' ? await loadPipeline(options.pipeline) : options.pipeline;
  const emit = options.onEvent ?? (() => {});
  const { s3, personalize } = resolveConnections(p, options);
  // Settings that name nothing leave S3 to the package-wide client (the CLI's, or the SDK's chain).
  const own = isClient(s3) ? s3 : Object.keys(s3).length > 0 ? { ...s3Settings(), ...s3 } : undefined;
  return withCall({ s3: own }, async () => {
    const summary = emptySummary(p, options.dryRun === true);
    if (options.dryRun) await dryRun(p, summary, emit);
    else await fullRun(p, summary, { personalize, signal: options.signal }, emit);
    summary.seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (!options.dryRun) {
      summary.files.summary = p.output.summary;
      await writeJsonDoc(p.output.summary, summary);
    }
    return summary;
  });
}

/** The steps in order; each reuses what WORK/run.json records as done with the same settings. */
async function fullRun(
  p: Pipeline,
  summary: RunSummary,
  jobs: JobsConnection,
  emit: (e: RunEvent) => void,
): Promise<void> {
  const ctx = await openRun(p, summary, emit);
  const { prepareKey, jobsExist } = await prepareStep(ctx);
  if (summary.shards.records === 0) {
    stopWithoutRecords(p, summary);
    return;
  }
  await validateStep(ctx, prepareKey);
  const done = await jobsStep(ctx, prepareKey, jobsExist, jobs);
  if (!done) return;
  const collectKey = await collectStep(ctx, done.jobsKey, done.active);
  await exportStep(ctx, collectKey);
  await reportStep(ctx, collectKey, done.active);
  finish(ctx);
}

/**
 * WORK/run.json, read as the run will read it: no credentials, no bucket or no endpoint shows here,
 * not after the plan; but the pipeline's own mistakes first (a user's trial, without credentials,
 * learnt of a wrong column only once they were set).
 */
async function planRecord(p: Pipeline, run: string): Promise<RunRecord | undefined> {
  try {
    return (await readJsonDoc(run, true)) as RunRecord | undefined;
  } catch (err) {
    await preflight(p);
    throw err;
  }
}

/** The plan: the input read and sharded in a local temporary folder, job names worked out, nothing uploaded. */
async function dryRun(p: Pipeline, summary: RunSummary, emit: (e: RunEvent) => void): Promise<void> {
  const layout = workLayout(p.work);
  const record = await planRecord(p, layout.run);
  for (const stage of ['prepare', 'validate', 'jobs', 'collect', 'export', 'report'] as const)
    if (record?.[stage]) summary.resumed.push(stage);
  summary.files = {
    export: p.output.file,
    merged: p.output.merged,
    rejects: p.output.rejects,
    missing: p.output.missing,
    errors: p.output.errors,
    invalid: p.output.invalid,
    summary: p.output.summary,
    ...(p.output.report ? { report: p.output.report.html } : {}),
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
  const tmp = await makeTempDir(p.input.tmpDir ?? tmpdir(), 'personalize-batch-plan-');
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
