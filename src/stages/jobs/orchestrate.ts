/**
 * submit / wait / status: one job per shard, at most `maxRunning` pending or
 * running in the region, a state file written the moment each ARN is known,
 * and a resume that finds every job a dead process created, so no shard is
 * ever paid for twice.
 */
import pLimit from 'p-limit';
import { resolveFamily } from '../../core/families.js';
import { PbError } from '../../errors.js';
import { readJsonDoc, writeJsonDoc } from '../../io/doc.js';
import { isS3Uri } from '../../io/s3.js';
import {
  checkJobOptions,
  checkState,
  createRequest,
  currentJob,
  expectedJobArn,
  isTerminal,
  type JobAttempt,
  type JobKind,
  type JobOptions,
  type JobState,
  jobName,
  kindOf,
  type ManifestLike,
  newState,
  normalizeStatus,
  type ShardState,
  type Status,
  shardNeed,
  shardUris,
} from './model.js';
import {
  AlreadyExists,
  type JobService,
  type JobView,
  makePersonalizeClient,
  type PersonalizeSettings,
  personalizeService,
  Throttled,
} from './service.js';

/** Something worth telling the user, as it happens. */
export type JobEvent =
  | { type: 'state'; path: string; resumed: boolean }
  | { type: 'created'; shard: number; name: string; arn: string }
  | { type: 'found'; shard: number; name: string; arn: string }
  | { type: 'status'; shard: number; name: string; status: string; failureReason?: string }
  | { type: 'throttled'; reason: string }
  | { type: 'retry'; shard: number; attempt: number }
  | { type: 'progress'; counts: StatusCounts };

export interface StatusCounts {
  waiting: number;
  pending: number;
  running: number;
  active: number;
  failed: number;
}

interface CommonOptions {
  /** The Personalize client settings, or a ready service (tests, the run command). */
  personalize?: PersonalizeSettings;
  service?: JobService;
  /** Poll interval, jittered ±20% so many runs do not call in step. Default 60 s (the AWS samples' interval). */
  pollIntervalMs?: number;
  onEvent?: (e: JobEvent) => void;
  signal?: AbortSignal;
}

export interface SubmitOptions extends JobOptions, CommonOptions {
  /** The shard manifest (local or s3://); its shards must be on S3. */
  manifest: string;
  /** The jobs' output prefix; each shard writes to `<output>shard-NNNNN/`. */
  output: string;
  /** The state file; default `<output>state.json`. */
  state?: string;
  /** Job names start with this (default `pb`). */
  jobNamePrefix?: string;
  /** Jobs pending or running at once in the region, the account's other jobs included. Default 5 (the quota). */
  maxRunning?: number;
  /** Resubmit a failed shard under a new name up to this many times. Default 0. */
  retryFailed?: number;
  /** Keep going until every job is final (and resubmit failed ones); otherwise stop once every shard has a job. */
  wait?: boolean;
}

export interface WaitOptions extends CommonOptions {
  state: string;
}

export interface JobRow {
  shard: number;
  name: string;
  arn: string;
  status: string;
  records: number;
  attempts: number;
  createdAt?: string;
  updatedAt?: string;
  failureReason?: string;
  output: string;
}

export interface JobsSummary {
  state: string;
  runId: string;
  kind: JobKind;
  /** Jobs this call created (resubmissions included). */
  created: number;
  counts: StatusCounts;
  jobs: JobRow[];
  seconds: number;
}

export const JOB_DEFAULTS = {
  pollIntervalMs: 60_000,
  maxRunning: 5,
  retryFailed: 0,
  jobNamePrefix: 'pb',
} as const;

/** Shards' jobs created and, with `wait`, followed to the end. Resumes from the state file when there is one. */
export async function submit(options: SubmitOptions): Promise<JobsSummary> {
  const o = { ...JOB_DEFAULTS, ...defined(options) };
  if (!isS3Uri(o.output))
    throw new PbError('PB_USAGE', 'the jobs write to S3: --output must be s3://bucket/prefix/', {
      field: '--output',
    });
  if (!(Number.isInteger(o.maxRunning) && o.maxRunning >= 1))
    throw new PbError('PB_USAGE', '--max-running must be at least 1');
  const started = Date.now();
  const manifest = await loadManifest(o.manifest);
  const kind = kindOf(resolveFamily(manifest.family));
  checkJobOptions(kind, o);
  const fresh = newState(o.manifest, manifest, o.solutionVersionArn, o.output, new Date());
  const statePath = o.state ?? `${fresh.output}state.json`;
  const existing = await readJsonDoc(statePath, true);
  let state: JobState;
  if (existing === undefined) {
    state = fresh;
  } else {
    state = checkState(existing, statePath);
    // Written before empty shards were left out of manifests: never give one a job.
    state.shards = state.shards.filter((sh) => sh.records !== 0 || sh.jobs.length > 0);
    if (state.runId !== fresh.runId)
      throw new PbError(
        'PB_USAGE',
        `this state file belongs to another run (run ${state.runId}: other shards, solution version or output); give another --state or --output`,
        { file: statePath },
      );
  }
  const run = new Run(
    state,
    statePath,
    o,
    o.service ?? personalizeService(makePersonalizeClient(o.personalize)),
  );
  await run.save();
  o.onEvent?.({ type: 'state', path: statePath, resumed: existing !== undefined });
  await run.loop(true, o.wait === true);
  return run.summary(started);
}

/** A run read back from its state file, for wait and status: they never resubmit. */
async function openRun(options: WaitOptions): Promise<{ o: WaitOptions; run: Run }> {
  const o = { ...JOB_DEFAULTS, ...defined(options) };
  const state = checkState(await readJsonDoc(o.state), o.state);
  const service = o.service ?? personalizeService(makePersonalizeClient(o.personalize));
  return { o, run: new Run(state, o.state, { ...o, retryFailed: 0 }, service) };
}

/** Follows the jobs of a state file until each is final; creates nothing. */
export async function waitJobs(options: WaitOptions): Promise<JobsSummary> {
  const started = Date.now();
  const { o, run } = await openRun(options);
  o.onEvent?.({ type: 'state', path: o.state, resumed: true });
  await run.loop(false, true);
  return run.summary(started);
}

/** The state file refreshed once from the service (Describe per unfinished job). */
export async function jobStatus(options: WaitOptions): Promise<JobsSummary> {
  const started = Date.now();
  const { o, run } = await openRun(options);
  try {
    await run.refresh();
    await run.resolve(false);
  } catch (err) {
    if (!(err instanceof Throttled)) throw err;
    throw new PbError('PB_JOB', `the service is throttling requests (${err.message}); try again shortly`, {
      file: o.state,
    });
  }
  return run.summary(started);
}

async function loadManifest(uri: string): Promise<ManifestLike> {
  const m = (await readJsonDoc(uri)) as Partial<ManifestLike> | null;
  if (!m || typeof m !== 'object' || typeof m.family !== 'string' || !Array.isArray(m.shards))
    throw new PbError('PB_USAGE', 'not a shard manifest (made by `shard` or `prepare --shard-out`)', {
      file: uri,
    });
  // A job over no records fails ("no input data"), and on AWS it can be neither cancelled nor deleted.
  if (!m.shards.some((s) => !(s.records === 0)))
    throw new PbError(
      'PB_LIMIT',
      'the manifest lists no records (its input was empty, or every record was rejected): a batch job needs at least one, so no job was created',
      { file: uri },
    );
  for (const s of m.shards) {
    const local = [String(s.folder), ...shardUris(s)].find((u) => !isS3Uri(u));
    if (local !== undefined)
      throw new PbError(
        'PB_USAGE',
        `shard ${s.index} is local (${local}); jobs read from S3: shard to s3://bucket/prefix/ (shard -o, prepare --shard-out)`,
        { file: uri },
      );
  }
  return m as ManifestLike;
}

type RunOptions = Required<
  Pick<SubmitOptions, 'pollIntervalMs' | 'maxRunning' | 'retryFailed' | 'jobNamePrefix'>
> &
  Partial<JobOptions> &
  CommonOptions;

class Run {
  private created = 0;
  private readonly kind: JobKind;

  constructor(
    readonly state: JobState,
    readonly path: string,
    readonly o: RunOptions,
    readonly service: JobService,
  ) {
    this.kind = state.kind;
  }

  async save(): Promise<void> {
    this.state.updatedAt = new Date().toISOString();
    await writeJsonDoc(this.path, this.state);
  }

  /**
   * One pass per interval: refresh unfinished jobs, find jobs a crashed run
   * created, then fill the free slots. Ends when every shard has a job
   * (submit) or every job is final (wait).
   */
  async loop(create: boolean, untilFinal: boolean): Promise<void> {
    for (;;) {
      try {
        await this.refresh();
        await this.resolve(create);
        if (create) await this.fill();
      } catch (err) {
        // Throttled or over the quota: never a failure, only a reason to wait.
        if (!(err instanceof Throttled)) throw err;
        this.o.onEvent?.({ type: 'throttled', reason: err.message });
        await this.sleep();
        continue;
      }
      const needs = this.state.shards.map((s) => shardNeed(s, this.o.retryFailed));
      this.o.onEvent?.({ type: 'progress', counts: this.counts() });
      const unsubmitted = needs.filter((n) => n === 'submit' || n === 'resolve').length;
      const watching = needs.filter((n) => n === 'watch').length;
      if (!create && unsubmitted > 0 && watching === 0) {
        throw new PbError(
          'PB_JOB',
          `${unsubmitted} shard(s) have no job yet: run submit with the same manifest and output`,
          { file: this.path },
        );
      }
      if (untilFinal ? unsubmitted === 0 && watching === 0 : unsubmitted === 0) return;
      await this.sleep();
    }
  }

  /** Describe every job not yet final, and record what changed. */
  async refresh(): Promise<void> {
    const limit = pLimit(4);
    let changed = false;
    await Promise.all(
      this.state.shards.map((shard) =>
        limit(async () => {
          const job = currentJob(shard);
          if (!job?.arn || isTerminal(normalizeStatus(job.status))) return;
          const v = await this.service.describe(this.kind, job.arn);
          if (!v)
            throw new PbError(
              'PB_JOB',
              `job ${job.name} (${job.arn}) is unknown to the service: wrong region or account?`,
              { file: this.path },
            );
          if (this.apply(shard, job, v)) changed = true;
        }),
      ),
    );
    if (changed) await this.save();
  }

  private apply(shard: ShardState, job: JobAttempt, v: JobView): boolean {
    const before = `${job.status}|${job.failureReason ?? ''}|${job.arn ?? ''}`;
    job.arn = v.arn || job.arn;
    job.status = v.status;
    job.failureReason = v.failureReason;
    if (v.creationDateTime) job.createdAt = v.creationDateTime.toISOString();
    if (v.lastUpdatedDateTime) job.updatedAt = v.lastUpdatedDateTime.toISOString();
    const changed = before !== `${job.status}|${job.failureReason ?? ''}|${job.arn ?? ''}`;
    if (changed)
      this.o.onEvent?.({
        type: 'status',
        shard: shard.index,
        name: job.name,
        status: v.status,
        failureReason: v.failureReason,
      });
    return changed;
  }

  /**
   * Attempts written before their Create call answered: the job may exist.
   * Look it up by its expected ARN, then by name in the listing; if it is not
   * there the Create never reached the service and the attempt is retried
   * under the same name. Returns whether anything was resolved.
   */
  async resolve(create: boolean): Promise<boolean> {
    const open = this.state.shards.filter((s) => shardNeed(s, this.o.retryFailed) === 'resolve');
    if (open.length === 0) return false;
    const byName = await this.listByName(this.state.solutionVersionArn);
    for (const shard of open) {
      const job = currentJob(shard) as JobAttempt;
      const found = await this.findJob(job.name, byName);
      if (found) {
        this.apply(shard, job, found);
        this.o.onEvent?.({ type: 'found', shard: shard.index, name: job.name, arn: found.arn });
      } else if (create) {
        // Never reached the service: drop the attempt so fill() makes it again, same name.
        shard.jobs.pop();
      }
    }
    await this.save();
    return true;
  }

  private async findJob(name: string, byName: Map<string, JobView>): Promise<JobView | null> {
    const arn = expectedJobArn(this.state.solutionVersionArn, this.kind, name);
    if (arn) {
      const v = await this.service.describe(this.kind, arn);
      if (v) return v;
    }
    return byName.get(name) ?? null;
  }

  private async listByName(solutionVersionArn?: string): Promise<Map<string, JobView>> {
    const m = new Map<string, JobView>();
    for await (const v of this.service.list(this.kind, solutionVersionArn)) m.set(v.name, v);
    return m;
  }

  /** Creates jobs for shards that need one, as long as the region has free slots. */
  private async fill(): Promise<void> {
    const todo = this.state.shards.filter((s) => shardNeed(s, this.o.retryFailed) === 'submit');
    if (todo.length === 0) return;
    const running = await this.runningInRegion();
    let free = this.o.maxRunning - running;
    for (const shard of todo) {
      if (free <= 0) return;
      const outcome = await this.createFor(shard);
      if (outcome === 'throttled') return;
      free--;
    }
  }

  private async runningInRegion(): Promise<number> {
    let n = 0;
    for await (const v of this.service.list(this.kind)) if (!isTerminal(normalizeStatus(v.status))) n++;
    return n;
  }

  private async createFor(shard: ShardState): Promise<'created' | 'throttled'> {
    const attempt = shard.jobs.length;
    if (attempt > 0) this.o.onEvent?.({ type: 'retry', shard: shard.index, attempt });
    const name = jobName(this.o.jobNamePrefix, this.state.runId, shard.index, attempt);
    const job: JobAttempt = { name, status: 'CREATING' };
    // Written ahead: if the process dies during the call, the next run knows to look for this name.
    shard.jobs.push(job);
    await this.save();
    let arn: string;
    try {
      arn = await this.service.create(this.kind, createRequest(this.kind, name, shard, this.jobOptions()));
    } catch (err) {
      if (err instanceof Throttled) {
        shard.jobs.pop();
        await this.save();
        this.o.onEvent?.({ type: 'throttled', reason: err.message });
        return 'throttled';
      }
      if (err instanceof AlreadyExists) {
        const found = await this.findJob(name, await this.listByName(this.state.solutionVersionArn));
        if (!found)
          throw new PbError('PB_JOB', `a job named ${name} exists but neither Describe nor List finds it`, {
            file: this.path,
          });
        this.apply(shard, job, found);
        await this.save();
        this.o.onEvent?.({ type: 'found', shard: shard.index, name, arn: found.arn });
        return 'created';
      }
      shard.jobs.pop();
      await this.save();
      throw err;
    }
    job.arn = arn;
    job.status = 'CREATE PENDING';
    job.createdAt = new Date().toISOString();
    await this.save();
    this.created++;
    this.o.onEvent?.({ type: 'created', shard: shard.index, name, arn });
    return 'created';
  }

  private jobOptions(): JobOptions {
    const o = this.o;
    if (!o.roleArn) throw new PbError('PB_USAGE', 'submit needs --role-arn');
    return {
      solutionVersionArn: this.state.solutionVersionArn,
      roleArn: o.roleArn,
      numResults: o.numResults,
      filterArn: o.filterArn,
      explorationWeight: o.explorationWeight,
      explorationItemAgeCutoff: o.explorationItemAgeCutoff,
      rankingInfluence: o.rankingInfluence,
      themeItemNameColumn: o.themeItemNameColumn,
      inputKmsKeyArn: o.inputKmsKeyArn,
      outputKmsKeyArn: o.outputKmsKeyArn,
      tags: o.tags,
    };
  }

  counts(): StatusCounts {
    const c: StatusCounts = { waiting: 0, pending: 0, running: 0, active: 0, failed: 0 };
    for (const s of this.state.shards) {
      const job = currentJob(s);
      const st: Status | 'NONE' = job?.arn ? normalizeStatus(job.status) : 'NONE';
      if (st === 'NONE') c.waiting++;
      else if (st === 'ACTIVE') c.active++;
      else if (st === 'FAILED') c.failed++;
      else if (st === 'IN_PROGRESS') c.running++;
      else c.pending++;
    }
    return c;
  }

  private sleep(): Promise<void> {
    const ms = this.o.pollIntervalMs * (0.8 + 0.4 * Math.random());
    const signal = this.o.signal;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  summary(started: number): JobsSummary {
    return {
      state: this.path,
      runId: this.state.runId,
      kind: this.kind,
      created: this.created,
      counts: this.counts(),
      jobs: this.state.shards.map((s) => {
        const j = currentJob(s);
        return {
          shard: s.index,
          name: j?.name ?? '',
          arn: j?.arn ?? '',
          status: j ? j.status : 'NOT SUBMITTED',
          records: s.records,
          attempts: s.jobs.length,
          createdAt: j?.createdAt,
          updatedAt: j?.updatedAt,
          failureReason: j?.failureReason,
          output: s.output,
        };
      }),
      seconds: (Date.now() - started) / 1000,
    };
  }
}

/** Options without their undefined entries, so they never hide a default (the CLI passes every option). */
export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
