// What a run records and reports: the summary's parts from each stage's own summary, the keys that
// tell a step's settings apart, and the fingerprints that tell changed sources.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { PbError } from '../../errors.js';
import { readJsonDoc } from '../../io/doc.js';
import { openSource } from '../../io/input.js';
import { defaultS3Client, isS3Uri, listS3, s3ObjectExists } from '../../io/s3.js';
import type { CollectSummary } from '../collect/index.js';
import type { ExportSummary } from '../export/index.js';
import type { JobsSummary } from '../jobs/index.js';
import { normalizeStatus, shardUris } from '../jobs/model.js';
import type { PrepareSummary } from '../prepare/index.js';
import type { Manifest } from '../shard/index.js';
import { type Pipeline, workLayout } from './pipeline.js';
import type { RunSummary } from './types.js';

export function emptySummary(p: Pipeline, dryRun: boolean): RunSummary {
  return {
    pipeline: p.file,
    work: p.work,
    dryRun,
    resumed: [],
    inputs: [],
    records: { read: 0, written: 0, duplicates: 0, rejected: 0, inactive: 0, filteredOut: 0 },
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

export function recordsOf(s: PrepareSummary): RunSummary['records'] {
  return {
    read: s.recordsRead,
    written: s.written,
    duplicates: s.duplicates,
    rejected: s.rejected,
    inactive: s.inactive,
    filteredOut: s.filteredOut,
  };
}

export function shardsOf(
  m: Pick<Manifest, 'shards' | 'records' | 'bytes'>,
  manifest: string,
): RunSummary['shards'] {
  return {
    count: m.shards.length,
    manifest,
    records: m.records,
    bytes: m.bytes,
    uris: m.shards.flatMap(shardUris),
  };
}

export function jobsOf(j: JobsSummary): RunSummary['jobs'] {
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

export function collectOf(c: CollectSummary): NonNullable<RunSummary['collect']> {
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

export function exportOf(e: ExportSummary): NonNullable<RunSummary['export']> {
  const since = e.since
    ? {
        prev: e.since.prev,
        new: e.since.new,
        changed: e.since.changed,
        unchanged: e.since.unchanged,
        removed: e.since.removed,
      }
    : undefined;
  return {
    format: e.format,
    records: e.records,
    rows: e.rows,
    catalogMissing: e.catalogMissing,
    ...(e.usersInFile !== null && {
      users: { inFile: e.usersInFile, missing: e.usersMissing, dropped: e.usersDropped },
    }),
    ...(since ? { since } : {}),
  };
}

/** Whether a finished step's files are still there (a user may have deleted or moved them). */
export async function allExist(paths: readonly string[]): Promise<boolean> {
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

export async function* concatSources(uris: readonly string[]): AsyncGenerator<Buffer> {
  for (const uri of uris) yield* openSource(uri);
}

/** The settings the shards depend on (not where temporary files go or how much memory dedupe takes). */
export function prepareKeyOf(p: Pipeline): string {
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
export function keyOf(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex').slice(0, 16);
}

export function canonical(value: unknown): string {
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
export function relativeTo(pipelineFile: string, source: string): string {
  return isS3Uri(source) || isS3Uri(pipelineFile) ? source : relative(dirname(resolve(pipelineFile)), source);
}

/** `size:mtime` of local sources, `size:etag` of S3 objects (a prefix: of each object under it). */
export async function fingerprints(sources: readonly string[]): Promise<string[]> {
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
export async function anyJobIn(statePath: string): Promise<boolean> {
  const state = (await readJsonDoc(statePath, true)) as { shards?: { jobs?: unknown[] }[] } | undefined;
  return (state?.shards ?? []).some((sh) => (sh.jobs?.length ?? 0) > 0);
}

export function changed(paths: string, what: string, at: string, file: string): PbError {
  return new PbError(
    'PB_USAGE',
    `${paths} changed since ${what} (${at}); put them back, or give this pipeline a new $.work prefix to start over`,
    { file },
  );
}
