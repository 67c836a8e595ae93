import type { Family } from '../core/families.js';
import { type Fault, type Faults, matches, mergeFaults } from './faults.js';

/**
 * The emulated jobs with no HTTP code: their records, their status over
 * time (pending, then running while the runner works, then final), the
 * count the pending/in-progress quota checks, and the injected faults in
 * force. operations.ts answers the API calls over this store.
 */

/** The resource type in the job's ARN, which also names the job type. */
export type JobKind = 'batch-inference-job' | 'batch-segment-job';

/** The four states a batch job passes through. */
export type Phase = 'pending' | 'running' | 'active' | 'failed';

/**
 * `observed`: what real runs return (CREATE PENDING, CREATE IN_PROGRESS,
 * ACTIVE, CREATE FAILED). `model`: what the API model documents (PENDING,
 * IN PROGRESS, ACTIVE, CREATE FAILED). Clients must accept both.
 */
export type StatusSpelling = 'observed' | 'model';

const STATUS: Record<StatusSpelling, Record<Phase, string>> = {
  observed: {
    pending: 'CREATE PENDING',
    running: 'CREATE IN_PROGRESS',
    active: 'ACTIVE',
    failed: 'CREATE FAILED',
  },
  model: { pending: 'PENDING', running: 'IN PROGRESS', active: 'ACTIVE', failed: 'CREATE FAILED' },
};

/** What the runner needs to know about a job. */
export interface JobSpec {
  kind: JobKind;
  jobName: string;
  solutionVersionArn: string;
  inputPath: string;
  outputPath: string;
  /** As requested; the runner applies the default (25). */
  numResults: number | undefined;
  /** THEME_GENERATION with the Items column holding item names. */
  themes: { itemName: string } | undefined;
}

export type RunResult =
  | { ok: true; family: Family; lines: number; errorLines: number; outputs: string[] }
  | { ok: false; reason: string; family?: Family };

/** Does the work of an in-progress job. Never rejects: failures are results. */
export type Runner = (spec: JobSpec, signal: AbortSignal) => Promise<RunResult>;

/** A read-only snapshot of a job, for tests and logs. */
export interface EmulatedJob {
  readonly kind: JobKind;
  readonly arn: string;
  readonly jobName: string;
  /** As Describe spells it (see StatusSpelling). */
  readonly status: string;
  readonly phase: Phase;
  readonly failureReason: string | undefined;
  /** The Create request body as received. */
  readonly request: Readonly<Record<string, unknown>>;
  /** The recipe family the job ran as, once known. */
  readonly family: Family | undefined;
  /** Output lines written, error lines included (once ACTIVE). */
  readonly lines: number | undefined;
  readonly errorLines: number | undefined;
  /** s3:// URIs of the `.out` objects written (once ACTIVE). */
  readonly outputs: readonly string[];
  readonly createdAt: Date;
  readonly updatedAt: Date;
  /** Every status the job has had, with when. */
  readonly history: readonly { status: string; at: Date }[];
}

/** A job's record. */
export interface Job {
  kind: JobKind;
  arn: string;
  jobName: string;
  seq: number;
  request: Record<string, unknown>;
  spec: JobSpec;
  phase: Phase;
  createdMs: number;
  updatedMs: number;
  runningMs: number;
  result: RunResult | undefined;
  timer: NodeJS.Timeout | undefined;
  history: { phase: Phase; ms: number }[];
}

export interface StoreOptions {
  /** Time in CREATE PENDING, and the least time in CREATE IN_PROGRESS, in ms. */
  stepMs: number;
  /** Pending plus in-progress jobs allowed per job type. */
  maxRunning: number;
  region: string;
  account: string;
  spelling: StatusSpelling;
  faults: Faults;
  runner: Runner;
  /** Called on every status change, creation included. */
  onStatus?: (job: EmulatedJob) => void;
}

const MAX_TIMER = 2 ** 31 - 1;

export class JobStore {
  private readonly byArn = new Map<string, Job>();
  private readonly all: Job[] = [];
  private readonly runs = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private faults: Faults;
  private seq = 0;
  private closed = false;

  constructor(readonly o: StoreOptions) {
    this.faults = mergeFaults(o.faults, {});
  }

  /** The throttling fault for this request, if one is armed (it counts down). */
  takeThrottle(): Fault | undefined {
    if (this.faults.throttle <= 0) return undefined;
    this.faults.throttle--;
    return { type: this.faults.throttleError, message: 'Rate exceeded' };
  }

  injectFault(change: Partial<Faults>): void {
    this.faults = mergeFaults(this.faults, change);
    // Slow or not may have changed for jobs already in progress.
    for (const job of this.all) if (job.phase === 'pending' || job.phase === 'running') this.advance(job);
  }

  currentFaults(): Faults {
    return mergeFaults(this.faults, {});
  }

  /** The faults in force, not copied: for a check on every S3 request. */
  peekFaults(): Readonly<Faults> {
    return this.faults;
  }

  jobs(): EmulatedJob[] {
    return this.all.map((j) => this.snapshot(j));
  }

  /** Stops every timer, aborts the runners and waits for them to settle. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.all) clearTimeout(job.timer);
    this.abort.abort();
    await Promise.allSettled([...this.runs]);
  }

  /** The job of an ARN, if there is one. */
  get(arn: string): Job | undefined {
    return this.byArn.get(arn);
  }

  /** Every job, both types, oldest first. */
  records(): readonly Job[] {
    return this.all;
  }

  /** Jobs of a type pending or in progress: what the quota counts. */
  busy(kind: JobKind): number {
    return this.all.filter((j) => j.kind === kind && (j.phase === 'pending' || j.phase === 'running')).length;
  }

  /** A new job, pending from now, as a valid Create request asked. */
  add(arn: string, request: Record<string, unknown>, spec: JobSpec): Job {
    const now = Date.now();
    const job: Job = {
      kind: spec.kind,
      arn,
      jobName: spec.jobName,
      seq: this.seq++,
      request,
      spec,
      phase: 'pending',
      createdMs: now,
      updatedMs: now,
      runningMs: 0,
      result: undefined,
      timer: undefined,
      history: [{ phase: 'pending', ms: now }],
    };
    this.byArn.set(arn, job);
    this.all.push(job);
    this.o.onStatus?.(this.snapshot(job));
    this.advance(job);
    return job;
  }

  /** Moves a job along its statuses as far as time and its work allow, and sets a timer for the next step. */
  private advance(job: Job): void {
    clearTimeout(job.timer);
    job.timer = undefined;
    if (this.closed) return;
    const now = Date.now();
    if (job.phase === 'pending') {
      const at = job.createdMs + this.o.stepMs;
      if (now < at) {
        this.wake(job, at - now);
        return;
      }
      this.transition(job, 'running', now);
      job.runningMs = now;
      if (matches(this.faults.failJobs, job.jobName))
        job.result = { ok: false, reason: this.faults.failReason };
      else this.start(job);
    }
    if (job.phase === 'running') {
      if (!job.result) return; // the runner calls advance() when it is done
      const slow = matches(this.faults.slowJobs, job.jobName) ? this.faults.slowMs : 0;
      const at = job.runningMs + this.o.stepMs + slow;
      if (now < at) {
        this.wake(job, at - now);
        return;
      }
      const r = job.result;
      job.phase = r.ok ? 'active' : 'failed';
      this.transition(job, job.phase, now);
    }
  }

  private wake(job: Job, ms: number): void {
    if (!Number.isFinite(ms)) return; // held until injectFault lifts it
    job.timer = setTimeout(() => this.advance(job), Math.min(ms, MAX_TIMER));
  }

  private start(job: Job): void {
    const run = this.o
      .runner({ ...job.spec }, this.abort.signal)
      .catch(
        (err: unknown): RunResult => ({
          ok: false,
          reason: `internal error: ${(err as Error)?.message ?? err}`,
        }),
      )
      .then((r) => {
        job.result = r;
        this.advance(job);
      });
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
  }

  private transition(job: Job, phase: Phase, ms: number): void {
    job.phase = phase;
    job.updatedMs = ms;
    job.history.push({ phase, ms });
    this.o.onStatus?.(this.snapshot(job));
  }

  /** A status as Describe spells it. */
  status(phase: Phase): string {
    return STATUS[this.o.spelling][phase];
  }

  snapshot(j: Job): EmulatedJob {
    const r = j.result;
    const done = j.phase === 'active' || j.phase === 'failed';
    return {
      kind: j.kind,
      arn: j.arn,
      jobName: j.jobName,
      status: this.status(j.phase),
      phase: j.phase,
      failureReason: done && r && !r.ok ? r.reason : undefined,
      request: structuredClone(j.request),
      family: r?.family,
      lines: j.phase === 'active' && r?.ok ? r.lines : undefined,
      errorLines: j.phase === 'active' && r?.ok ? r.errorLines : undefined,
      outputs: j.phase === 'active' && r?.ok ? [...r.outputs] : [],
      createdAt: new Date(j.createdMs),
      updatedAt: new Date(j.updatedMs),
      history: j.history.map((h) => ({ status: this.status(h.phase), at: new Date(h.ms) })),
    };
  }
}
