/**
 * The job model with no I/O: names, statuses, the state document, and the
 * request a shard's job is created with. The rest of the stage (index.ts and
 * what it calls) does the calls and the waiting around it.
 */
import { createHash } from 'node:crypto';
import { type FamilyInfo, familyInfo, resolveFamily } from '../../core/families.js';
import { PbError } from '../../errors.js';

/** Batch inference (CreateBatchInferenceJob) or batch segment (CreateBatchSegmentJob). */
export type JobKind = 'inference' | 'segment';

/** The statuses, normalised: the service writes `CREATE PENDING` and the model `PENDING` for the same thing. */
export type Status = 'PENDING' | 'IN_PROGRESS' | 'ACTIVE' | 'FAILED' | 'UNKNOWN';

/**
 * Both spellings the service uses: the model documents `PENDING`, `IN PROGRESS`,
 * real runs return `CREATE PENDING`, `CREATE IN_PROGRESS` (reference §4).
 */
export function normalizeStatus(raw: string | undefined): Status {
  const s = (raw ?? '')
    .toUpperCase()
    .replace(/^CREATE[\s_]+/, '')
    .replace(/\s+/g, '_');
  if (s === 'PENDING') return 'PENDING';
  if (s === 'IN_PROGRESS') return 'IN_PROGRESS';
  if (s === 'ACTIVE') return 'ACTIVE';
  if (s === 'FAILED') return 'FAILED';
  return 'UNKNOWN';
}

/** ACTIVE and CREATE FAILED are final; anything else (including a status we do not know) still holds a slot. */
export function isTerminal(s: Status): boolean {
  return s === 'ACTIVE' || s === 'FAILED';
}

export const JOB_NAME_MAX = 63;
const JOB_NAME = /^[a-zA-Z0-9][a-zA-Z0-9\-_]*$/;

export function isValidJobName(name: string): boolean {
  return name.length >= 1 && name.length <= JOB_NAME_MAX && JOB_NAME.test(name);
}

/**
 * A run's id: a digest of what makes the run (the shards' checksums, the
 * solution version, the output prefix), so the same submit computes the same
 * job names after a crash even if the state file is gone, and a different
 * model or destination never collides with an earlier run.
 */
export function runIdOf(parts: readonly string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex').slice(0, 8);
}

/**
 * `<prefix>-<runId>-<shard>` plus `-r<n>` for the n-th resubmission: valid for
 * the service (1 to 63 characters, `^[a-zA-Z0-9][a-zA-Z0-9\-_]*`), unique per
 * run, shard and attempt. The prefix is cleaned and shortened to fit.
 */
export function jobName(prefix: string, runId: string, shard: number, attempt: number): string {
  const tail = `-${runId}-${String(shard).padStart(5, '0')}${attempt > 0 ? `-r${attempt}` : ''}`;
  let p = prefix.replace(/[^a-zA-Z0-9\-_]/g, '-').replace(/^[^a-zA-Z0-9]+/, '');
  if (p === '') p = 'pb';
  p = p.slice(0, JOB_NAME_MAX - tail.length);
  return `${p}${tail}`;
}

/** Region and account from an ARN such as `arn:aws:personalize:us-east-1:123456789012:solution/x/v1`. */
/** The region a Personalize ARN names (jobs go where the model is), or undefined. */
export function regionOfArn(arn: string | undefined): string | undefined {
  return (arn && arnParts(arn)?.region) || undefined;
}

export function arnParts(arn: string): { partition: string; region: string; account: string } | null {
  const m = /^arn:([a-z\d-]+):personalize:([a-z\d-]*):(\d*):/.exec(arn);
  if (!m) return null;
  return { partition: m[1] as string, region: m[2] as string, account: m[3] as string };
}

/** The ARN the service gives a job of this name: it ends in `batch-inference-job/<name>` (reference §4). */
export function expectedJobArn(solutionVersionArn: string, kind: JobKind, name: string): string | null {
  const p = arnParts(solutionVersionArn);
  if (!p || p.region === '' || p.account === '') return null;
  const type = kind === 'segment' ? 'batch-segment-job' : 'batch-inference-job';
  return `arn:${p.partition}:personalize:${p.region}:${p.account}:${type}/${name}`;
}

/** One Create call for a shard, and what became of it. */
export interface JobAttempt {
  name: string;
  /** Known once the Create call answered, or the job was found by name after a crash. */
  arn?: string;
  /** As the service wrote it (either spelling); `CREATING` before the Create call answered. */
  status: string;
  failureReason?: string;
  createdAt?: string;
  updatedAt?: string;
}

export interface ShardState {
  index: number;
  /** The shard's first input file (manifest `uri`). */
  input: string;
  /** Every input file of the shard (manifest `files`); absent in state files written before shards had several. */
  inputs?: string[];
  /** The job's input path: the shard's folder, ending in `/` so it matches nothing else. */
  inputPrefix: string;
  /** The job's output path, its own folder per shard. */
  output: string;
  records: number;
  bytes: number;
  /** Every attempt, oldest first; the last one is the shard's job. */
  jobs: JobAttempt[];
}

/** The state file: which job each shard has, written the moment an ARN is known. */
export interface JobState {
  version: 1;
  runId: string;
  family: string;
  kind: JobKind;
  manifest: string;
  solutionVersionArn: string;
  output: string;
  createdAt: string;
  updatedAt: string;
  shards: ShardState[];
}

/** The manifest fields submit needs (schemas/manifest.schema.json has the whole shape). */
export interface ManifestLike {
  family: string;
  shards: ReadonlyArray<{
    index: number;
    uri: string;
    folder: string;
    records: number;
    bytes: number;
    sha256: string;
    /** Absent in manifests written before shards could hold several files (then `uri` is the one file). */
    files?: ReadonlyArray<{ uri: string }>;
  }>;
}

/**
 * The input files of a manifest's shard, in order: its `files`, or its one
 * `uri` in a manifest written before shards could hold several files.
 */
export function shardUris(s: { uri: string; files?: ReadonlyArray<{ uri: string }> }): string[] {
  return s.files ? s.files.map((f) => f.uri) : [s.uri];
}

export function kindOf(family: FamilyInfo): JobKind {
  return family.segment ? 'segment' : 'inference';
}

/** The id of a run: a manifest's shards, sent to one output prefix (ending in /) by one solution version. */
export function runIdFor(
  solutionVersionArn: string,
  output: string,
  shards: ReadonlyArray<{ sha256: string }>,
): string {
  return runIdOf([solutionVersionArn, output, ...shards.map((s) => s.sha256)]);
}

/** A fresh state for a manifest: one shard entry each, no jobs yet. */
export function newState(
  manifestUri: string,
  manifest: ManifestLike,
  solutionVersionArn: string,
  output: string,
  now: Date,
): JobState {
  const family = resolveFamily(manifest.family);
  const out = output.endsWith('/') ? output : `${output}/`;
  const runId = runIdFor(solutionVersionArn, out, manifest.shards);
  return {
    version: 1,
    runId,
    family: family.family,
    kind: kindOf(family),
    manifest: manifestUri,
    solutionVersionArn,
    output: out,
    createdAt: now.toISOString(),
    updatedAt: now.toISOString(),
    // Older manifests may list a shard with no record: no job is ever made for one (the run id still counts it).
    shards: manifest.shards
      .filter((s) => s.records !== 0)
      .map((s) => ({
        index: s.index,
        input: s.uri,
        inputs: shardUris(s),
        inputPrefix: s.folder.endsWith('/') ? s.folder : `${s.folder}/`,
        output: `${out}shard-${String(s.index).padStart(5, '0')}/`,
        records: s.records,
        bytes: s.bytes,
        jobs: [],
      })),
  };
}

/** Checks a state file read back is one this code wrote; a clear error otherwise. */
export function checkState(value: unknown, where: string): JobState {
  const s = value as Partial<JobState> | null;
  const bad = (why: string) =>
    new PbError('PB_USAGE', `not a personalize-batch state file: ${why}`, { file: where });
  if (!s || typeof s !== 'object') throw bad('not a JSON object');
  if (s.version !== 1) throw bad(`version ${String(s.version)} (expected 1)`);
  if (!Array.isArray(s.shards)) throw bad('no shards array');
  if (typeof s.runId !== 'string' || typeof s.solutionVersionArn !== 'string' || typeof s.output !== 'string')
    throw bad('runId, solutionVersionArn or output missing');
  if (s.kind !== 'inference' && s.kind !== 'segment') throw bad(`kind ${String(s.kind)}`);
  familyInfo(resolveFamily(String(s.family)).family);
  for (const sh of s.shards) {
    if (!sh || typeof sh.index !== 'number' || !Array.isArray(sh.jobs))
      throw bad('a shard without index or jobs');
  }
  return s as JobState;
}

/** The shard's current job: its last attempt. */
export function currentJob(shard: ShardState): JobAttempt | undefined {
  return shard.jobs[shard.jobs.length - 1];
}

/** What a shard needs next, given how many resubmissions a failed shard may have. */
export type ShardNeed = 'submit' | 'resolve' | 'watch' | 'done' | 'failed';

export function shardNeed(shard: ShardState, retryFailed: number): ShardNeed {
  const job = currentJob(shard);
  if (!job) return 'submit';
  // Written before the Create call: the job may exist without us knowing its ARN.
  if (!job.arn) return 'resolve';
  const st = normalizeStatus(job.status);
  if (st === 'ACTIVE') return 'done';
  if (st === 'FAILED') return shard.jobs.length - 1 < retryFailed ? 'submit' : 'failed';
  return 'watch';
}

/** Options of CreateBatchInferenceJob / CreateBatchSegmentJob beyond name, input and output. */
export interface JobOptions {
  solutionVersionArn: string;
  roleArn: string;
  numResults?: number;
  filterArn?: string;
  explorationWeight?: string;
  explorationItemAgeCutoff?: string;
  /** `POPULARITY=0.5`-style weights (0 to 1), batch inference only. */
  rankingInfluence?: Record<string, number>;
  /** THEME_GENERATION mode with the Items column that holds item names. */
  themeItemNameColumn?: string;
  inputKmsKeyArn?: string;
  outputKmsKeyArn?: string;
  tags?: Record<string, string>;
}

/**
 * The Create request for one shard, as the API's JSON shape (the SDK's input
 * types are the same). Segment jobs take no config, mode or theme fields.
 */
export function createRequest(
  kind: JobKind,
  name: string,
  shard: ShardState,
  o: JobOptions,
): Record<string, unknown> {
  const req: Record<string, unknown> = {
    jobName: name,
    solutionVersionArn: o.solutionVersionArn,
    roleArn: o.roleArn,
    jobInput: {
      s3DataSource: { path: shard.inputPrefix, ...(o.inputKmsKeyArn ? { kmsKeyArn: o.inputKmsKeyArn } : {}) },
    },
    jobOutput: {
      s3DataDestination: {
        path: shard.output,
        ...(o.outputKmsKeyArn ? { kmsKeyArn: o.outputKmsKeyArn } : {}),
      },
    },
  };
  if (o.numResults !== undefined) req.numResults = o.numResults;
  if (o.filterArn) req.filterArn = o.filterArn;
  if (o.tags && Object.keys(o.tags).length > 0) {
    req.tags = Object.entries(o.tags).map(([tagKey, tagValue]) => ({ tagKey, tagValue }));
  }
  if (kind === 'segment') return req;
  const exploration: Record<string, string> = {};
  if (o.explorationWeight !== undefined) exploration.explorationWeight = o.explorationWeight;
  if (o.explorationItemAgeCutoff !== undefined)
    exploration.explorationItemAgeCutOff = o.explorationItemAgeCutoff;
  const config: Record<string, unknown> = {};
  if (Object.keys(exploration).length > 0) config.itemExplorationConfig = exploration;
  if (o.rankingInfluence && Object.keys(o.rankingInfluence).length > 0)
    config.rankingInfluence = o.rankingInfluence;
  if (Object.keys(config).length > 0) req.batchInferenceJobConfig = config;
  if (o.themeItemNameColumn) {
    req.batchInferenceJobMode = 'THEME_GENERATION';
    req.themeGenerationConfig = { fieldsForThemeGeneration: { itemName: o.themeItemNameColumn } };
  }
  return req;
}

/** Checks options the service would refuse, before any job is created: the first problem, as a PbError. */
export function checkJobOptions(kind: JobKind, o: JobOptions): void {
  const first = jobOptionProblems(kind, o)[0];
  if (first) throw new PbError('PB_USAGE', first.reason, first.field ? { field: first.field } : {});
}

/** Every option the service would refuse, with the CLI option it came from. */
export function jobOptionProblems(kind: JobKind, o: JobOptions): { field?: string; reason: string }[] {
  const arn = /^arn:([a-z\d-]+):personalize:.*:.*:.+$/;
  const role = /^arn:([a-z\d-]+):iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
  const out: { field?: string; reason: string }[] = [];
  const usage = (field: string, reason: string) => {
    out.push({ field, reason });
  };
  if (!arn.test(o.solutionVersionArn) || o.solutionVersionArn.length > 256)
    usage('--solution-version-arn', 'expected arn:aws:personalize:REGION:ACCOUNT:solution/NAME/VERSION');
  if (!role.test(o.roleArn) || o.roleArn.length > 256)
    usage('--role-arn', 'expected arn:aws:iam::ACCOUNT:role/NAME');
  if (o.filterArn && (!arn.test(o.filterArn) || o.filterArn.length > 256))
    usage('--filter-arn', 'expected arn:aws:personalize:REGION:ACCOUNT:filter/NAME');
  if (o.numResults !== undefined && (!Number.isInteger(o.numResults) || o.numResults < 1))
    usage('--num-results', 'expected a whole number of at least 1');
  if (o.explorationWeight !== undefined) {
    const w = Number(o.explorationWeight);
    if (!(w >= 0 && w <= 1)) usage('--exploration-weight', 'expected a number from 0 to 1');
  }
  if (o.explorationItemAgeCutoff !== undefined && !(Number(o.explorationItemAgeCutoff) > 0))
    usage('--exploration-item-age-cutoff', 'expected a number of days above 0');
  for (const [k, w] of Object.entries(o.rankingInfluence ?? {})) {
    if (k !== 'POPULARITY' && k !== 'FRESHNESS')
      usage('--ranking-influence', `unknown influence "${k}" (POPULARITY or FRESHNESS)`);
    else if (!(w >= 0 && w <= 1)) usage('--ranking-influence', `${k} must be from 0 to 1`);
  }
  if (o.themeItemNameColumn !== undefined && !/^[A-Za-z_][A-Za-z\d_]{0,149}$/.test(o.themeItemNameColumn))
    usage('--theme-item-name', 'expected an Items column name ([A-Za-z_][A-Za-z0-9_]*, at most 150)');
  const tags = Object.entries(o.tags ?? {});
  if (tags.length > 200) usage('--tag', 'at most 200 tags');
  for (const [k, v] of tags) {
    if (k.length < 1 || k.length > 128) usage('--tag', `tag key "${k}" must be 1 to 128 characters`);
    else if (v.length > 256) usage('--tag', `tag "${k}": value longer than 256 characters`);
  }
  for (const [field, v] of [
    ['--input-kms-key-arn', o.inputKmsKeyArn],
    ['--output-kms-key-arn', o.outputKmsKeyArn],
  ] as const) {
    if (v !== undefined && (v.length > 2048 || !v.startsWith('arn:'))) usage(field, 'expected a KMS key ARN');
  }
  if (kind === 'segment') {
    const extra = [
      o.explorationWeight !== undefined && '--exploration-weight',
      o.explorationItemAgeCutoff !== undefined && '--exploration-item-age-cutoff',
      // The CLI hands over {} when no --ranking-influence was given: only a weight counts.
      Object.keys(o.rankingInfluence ?? {}).length > 0 && '--ranking-influence',
      o.themeItemNameColumn && '--theme-item-name',
    ].filter(Boolean);
    if (extra.length > 0)
      out.push({
        reason: `batch segment jobs take no ${extra.join(', ')} (CreateBatchSegmentJob has no such field)`,
      });
  }
  return out;
}
