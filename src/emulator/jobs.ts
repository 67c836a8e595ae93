import type { Family } from '../core/families.js';

/**
 * The emulated Personalize control plane with no HTTP code: request
 * validation as in the service model, the job records, their status over
 * time, the pending/in-progress quota, List pagination and the injected
 * faults. Operations take the parsed JSON body and return a reply; the
 * wire layer (personalize-server.ts) only moves bytes.
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

/** The error names the emulator answers with (all HTTP 400). */
export type ErrorType =
  | 'InvalidInputException'
  | 'InvalidNextTokenException'
  | 'ResourceAlreadyExistsException'
  | 'ResourceNotFoundException'
  | 'LimitExceededException'
  | 'ThrottlingException'
  | 'UnknownOperationException'
  | 'SerializationException';

export interface Fault {
  type: ErrorType;
  message: string;
}

export type Reply =
  | { ok: true; body: Record<string, unknown>; created?: EmulatedJob }
  | { ok: false; fault: Fault };

/** Faults injected for tests; change them at runtime with `Emulator.injectFault`. */
export interface Faults {
  /** The next N Personalize requests (any operation) are refused with `throttleError`. Default 0. */
  throttle: number;
  /**
   * What a throttled request gets. `ThrottlingException` (default) is not in the
   * Personalize model, so the SDK throws a PersonalizeServiceException named
   * ThrottlingException; `LimitExceededException` is the modelled class. The
   * SDK's standard retry treats both as throttling and retries them.
   */
  throttleError: 'ThrottlingException' | 'LimitExceededException';
  /** Jobs whose name is listed (or matches) skip their work and end CREATE FAILED with `failReason`. */
  failJobs: readonly string[] | RegExp | undefined;
  /** failureReason of the jobs in failJobs. */
  failReason: string;
  /** Jobs whose name is listed (or matches) stay `slowMs` longer in CREATE IN_PROGRESS. */
  slowJobs: readonly string[] | RegExp | undefined;
  /** Extra time in progress for slow jobs, in ms; Infinity holds them until the fault is lifted. Default 60000. */
  slowMs: number;
}

export const DEFAULT_FAULTS: Faults = {
  throttle: 0,
  throttleError: 'ThrottlingException',
  failJobs: undefined,
  failReason: 'Emulated failure: the job name is in faults.failJobs',
  slowJobs: undefined,
  slowMs: 60_000,
};

/** Copies faults, so a caller's arrays and a global RegExp's lastIndex never leak in. */
export function mergeFaults(base: Faults, change: Partial<Faults>): Faults {
  const out: Faults = { ...base, ...change };
  out.failJobs = copyMatcher(out.failJobs);
  out.slowJobs = copyMatcher(out.slowJobs);
  return out;
}

function copyMatcher(m: readonly string[] | RegExp | undefined): readonly string[] | RegExp | undefined {
  if (m === undefined) return undefined;
  return m instanceof RegExp ? new RegExp(m.source, m.flags.replace(/[gy]/g, '')) : [...m];
}

function matches(m: readonly string[] | RegExp | undefined, name: string): boolean {
  if (m === undefined) return false;
  return m instanceof RegExp ? m.test(name) : m.includes(name);
}

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

interface Job {
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

// Constraints from the service model (botocore personalize 2018-05-22), anchored at both ends.
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9\-_]*$/;
const ARN = /^arn:([a-z\d-]+):personalize:.*:.*:.+$/;
const ROLE_ARN = /^arn:([a-z\d-]+):iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/;
const S3_PATH = /^(s3|http|https):\/\/.+$/;
const KMS_ARN = /^arn:aws.*:kms:.*:[0-9]{12}:key\/.*$/;
const COLUMN_NAME = /^[A-Za-z_][A-Za-z\d_]*$/;
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const MODES = ['BATCH_INFERENCE', 'THEME_GENERATION'];
const INFLUENCES = ['POPULARITY', 'FRESHNESS'];

const INFERENCE_FIELDS = [
  'jobName',
  'solutionVersionArn',
  'filterArn',
  'numResults',
  'jobInput',
  'jobOutput',
  'roleArn',
  'batchInferenceJobConfig',
  'tags',
  'batchInferenceJobMode',
  'themeGenerationConfig',
];
const SEGMENT_FIELDS = [
  'jobName',
  'solutionVersionArn',
  'filterArn',
  'numResults',
  'jobInput',
  'jobOutput',
  'roleArn',
  'tags',
];

/** The operations the emulator implements. */
export const OPERATIONS = [
  'CreateBatchInferenceJob',
  'DescribeBatchInferenceJob',
  'ListBatchInferenceJobs',
  'CreateBatchSegmentJob',
  'DescribeBatchSegmentJob',
  'ListBatchSegmentJobs',
] as const;

const MAX_TIMER = 2 ** 31 - 1;

export class JobStore {
  private readonly byArn = new Map<string, Job>();
  private readonly all: Job[] = [];
  private readonly runs = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private faults: Faults;
  private seq = 0;
  private closed = false;

  constructor(private readonly o: StoreOptions) {
    this.faults = mergeFaults(o.faults, {});
  }

  /** Runs one operation on a parsed body. */
  call(operation: string, body: unknown): Reply {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return fail('SerializationException', 'the request body must be a JSON object');
    }
    const b = body as Record<string, unknown>;
    switch (operation) {
      case 'CreateBatchInferenceJob':
        return this.create('batch-inference-job', b);
      case 'CreateBatchSegmentJob':
        return this.create('batch-segment-job', b);
      case 'DescribeBatchInferenceJob':
        return this.describe('batch-inference-job', b);
      case 'DescribeBatchSegmentJob':
        return this.describe('batch-segment-job', b);
      case 'ListBatchInferenceJobs':
        return this.list('batch-inference-job', b);
      case 'ListBatchSegmentJobs':
        return this.list('batch-segment-job', b);
      default:
        return fail(
          'UnknownOperationException',
          `operation ${operation} is not emulated; the personalize-batch emulator implements ${OPERATIONS.join(', ')}`,
        );
    }
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

  private create(kind: JobKind, b: Record<string, unknown>): Reply {
    const bad = validateCreate(kind, b);
    if (bad) return fail('InvalidInputException', bad);
    const jobName = b.jobName as string;
    const arn = `arn:aws:personalize:${this.o.region}:${this.o.account}:${kind}/${jobName}`;
    if (this.byArn.has(arn)) {
      return fail('ResourceAlreadyExistsException', `${label(kind)} ${arn} already exists`);
    }
    const busy = this.all.filter((j) => j.kind === kind && (j.phase === 'pending' || j.phase === 'running'));
    if (busy.length >= this.o.maxRunning) {
      return fail(
        'LimitExceededException',
        `${busy.length} ${label(kind)}s are already pending or in progress; the limit is ${this.o.maxRunning} per region`,
      );
    }
    const now = Date.now();
    const theme = (
      b.themeGenerationConfig as { fieldsForThemeGeneration?: { itemName?: string } } | undefined
    )?.fieldsForThemeGeneration?.itemName;
    const job: Job = {
      kind,
      arn,
      jobName,
      seq: this.seq++,
      request: structuredClone(b),
      spec: {
        kind,
        jobName,
        solutionVersionArn: b.solutionVersionArn as string,
        inputPath: (b.jobInput as { s3DataSource: { path: string } }).s3DataSource.path,
        outputPath: (b.jobOutput as { s3DataDestination: { path: string } }).s3DataDestination.path,
        numResults: b.numResults as number | undefined,
        themes: b.batchInferenceJobMode === 'THEME_GENERATION' && theme ? { itemName: theme } : undefined,
      },
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
    const key = kind === 'batch-inference-job' ? 'batchInferenceJobArn' : 'batchSegmentJobArn';
    return { ok: true, body: { [key]: arn }, created: this.snapshot(job) };
  }

  private describe(kind: JobKind, b: Record<string, unknown>): Reply {
    const key = kind === 'batch-inference-job' ? 'batchInferenceJobArn' : 'batchSegmentJobArn';
    const bad = onlyFields(b, [key]) ?? str(b[key], key, { required: true, max: 256, pattern: ARN });
    if (bad) return fail('InvalidInputException', bad);
    const job = this.byArn.get(b[key] as string);
    if (!job || job.kind !== kind) {
      return fail('ResourceNotFoundException', `Could not find ${label(kind)}: ${String(b[key])}`);
    }
    const field = kind === 'batch-inference-job' ? 'batchInferenceJob' : 'batchSegmentJob';
    return { ok: true, body: { [field]: this.wire(job) } };
  }

  private list(kind: JobKind, b: Record<string, unknown>): Reply {
    const bad =
      onlyFields(b, ['solutionVersionArn', 'nextToken', 'maxResults']) ??
      str(b.solutionVersionArn, 'solutionVersionArn', { max: 256, pattern: ARN }) ??
      str(b.nextToken, 'nextToken', { max: 1500 }) ??
      int(b.maxResults, 'maxResults', 1, 100);
    if (bad) return fail('InvalidInputException', bad);
    const filter = b.solutionVersionArn as string | undefined;
    let before = Number.POSITIVE_INFINITY;
    if (b.nextToken !== undefined) {
      const t = decodeToken(b.nextToken as string);
      if (!t || t.k !== kind || t.f !== (filter ?? null)) {
        return fail('InvalidNextTokenException', 'the nextToken is not one this List call returned');
      }
      before = t.s;
    }
    const max = (b.maxResults as number | undefined) ?? 100;
    // Newest first; the token holds the position of the last job returned, so
    // jobs created between pages never shift a page.
    const matching = this.all
      .filter(
        (j) =>
          j.kind === kind && j.seq < before && (filter === undefined || j.spec.solutionVersionArn === filter),
      )
      .reverse();
    const page = matching.slice(0, max);
    const more = matching.length > max;
    const items = page.map((j) => this.summary(j));
    const body: Record<string, unknown> = {
      [kind === 'batch-inference-job' ? 'batchInferenceJobs' : 'batchSegmentJobs']: items,
    };
    const last = page[page.length - 1];
    if (more && last) body.nextToken = encodeToken({ k: kind, s: last.seq, f: filter ?? null });
    return { ok: true, body };
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

  private status(phase: Phase): string {
    return STATUS[this.o.spelling][phase];
  }

  private snapshot(j: Job): EmulatedJob {
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

  /** The Describe shape (BatchInferenceJob / BatchSegmentJob in the model). */
  private wire(j: Job): Record<string, unknown> {
    const b = j.request;
    const r = j.result;
    const inference = j.kind === 'batch-inference-job';
    // numResults: as requested until the job is ACTIVE, then the lines written
    // (errors included), as the model documents for inference jobs. For
    // segment jobs it stays the users per line.
    const numResults =
      inference && j.phase === 'active' && r?.ok
        ? r.lines
        : ((b.numResults as number | undefined) ?? (inference ? undefined : 25));
    const out: Record<string, unknown> = {
      jobName: j.jobName,
      [inference ? 'batchInferenceJobArn' : 'batchSegmentJobArn']: j.arn,
      filterArn: b.filterArn,
      failureReason: j.phase === 'failed' && r && !r.ok ? r.reason : undefined,
      solutionVersionArn: b.solutionVersionArn,
      numResults,
      jobInput: b.jobInput,
      jobOutput: b.jobOutput,
      roleArn: b.roleArn,
      status: this.status(j.phase),
      creationDateTime: j.createdMs / 1000,
      lastUpdatedDateTime: j.updatedMs / 1000,
    };
    if (inference) {
      out.batchInferenceJobConfig = b.batchInferenceJobConfig;
      out.batchInferenceJobMode = b.batchInferenceJobMode ?? 'BATCH_INFERENCE';
      out.themeGenerationConfig = b.themeGenerationConfig;
    }
    return dropUndefined(out);
  }

  /** The List shape (BatchInferenceJobSummary / BatchSegmentJobSummary). */
  private summary(j: Job): Record<string, unknown> {
    const inference = j.kind === 'batch-inference-job';
    const r = j.result;
    return dropUndefined({
      [inference ? 'batchInferenceJobArn' : 'batchSegmentJobArn']: j.arn,
      jobName: j.jobName,
      status: this.status(j.phase),
      creationDateTime: j.createdMs / 1000,
      lastUpdatedDateTime: j.updatedMs / 1000,
      failureReason: j.phase === 'failed' && r && !r.ok ? r.reason : undefined,
      solutionVersionArn: j.request.solutionVersionArn,
      batchInferenceJobMode: inference ? (j.request.batchInferenceJobMode ?? 'BATCH_INFERENCE') : undefined,
    });
  }
}

function label(kind: JobKind): string {
  return kind === 'batch-inference-job' ? 'batch inference job' : 'batch segment job';
}

function fail(type: ErrorType, message: string): Reply {
  return { ok: false, fault: { type, message } };
}

function dropUndefined(o: Record<string, unknown>): Record<string, unknown> {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

interface Token {
  k: JobKind;
  s: number;
  f: string | null;
}

function encodeToken(t: Token): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(text: string): Token | undefined {
  try {
    const t = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Token;
    if (typeof t?.s === 'number' && typeof t.k === 'string' && (t.f === null || typeof t.f === 'string'))
      return t;
  } catch {
    // not a token of ours
  }
  return undefined;
}

// ---- validation: the model's constraints, in the service's message style ----

function violation(value: unknown, path: string, constraint: string): string {
  const shown = typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
  return `1 validation error detected: Value ${shown} at '${path}' failed to satisfy constraint: ${constraint}`;
}

function str(
  v: unknown,
  path: string,
  o: { required?: boolean; min?: number; max?: number; pattern?: RegExp },
): string | null {
  if (v === undefined || v === null)
    return o.required ? violation(null, path, 'Member must not be null') : null;
  if (typeof v !== 'string') return violation(v, path, 'Member must be a string');
  const len = [...v].length;
  if (o.min !== undefined && len < o.min)
    return violation(v, path, `Member must have length greater than or equal to ${o.min}`);
  if (o.max !== undefined && len > o.max)
    return violation(v, path, `Member must have length less than or equal to ${o.max}`);
  if (o.pattern && !o.pattern.test(v))
    return violation(v, path, `Member must satisfy regular expression pattern: ${o.pattern.source}`);
  return null;
}

function int(v: unknown, path: string, min: number, max: number): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) return violation(v, path, 'Member must be an integer');
  if (v < min) return violation(v, path, `Member must have value greater than or equal to ${min}`);
  if (v > max) return violation(v, path, `Member must have value less than or equal to ${max}`);
  return null;
}

function obj(v: unknown, path: string, required: boolean): string | null {
  if (v === undefined || v === null)
    return required ? violation(null, path, 'Member must not be null') : null;
  if (typeof v !== 'object' || Array.isArray(v)) return violation(v, path, 'Member must be a structure');
  return null;
}

/**
 * Members the model does not have are refused: the SDK never sends them, so
 * one here is a hand-made request with a typo, which the emulator should
 * point out rather than ignore.
 */
function onlyFields(b: Record<string, unknown>, allowed: readonly string[], prefix = ''): string | null {
  for (const k of Object.keys(b)) {
    if (!allowed.includes(k)) return `Unknown field '${prefix}${k}': expected one of ${allowed.join(', ')}`;
  }
  return null;
}

function s3Config(v: unknown, path: string, key: 's3DataSource' | 's3DataDestination'): string | null {
  const top = obj(v, path, true);
  if (top) return top;
  const outer = v as Record<string, unknown>;
  const inner = onlyFields(outer, [key], `${path}.`) ?? obj(outer[key], `${path}.${key}`, true);
  if (inner) return inner;
  const c = outer[key] as Record<string, unknown>;
  return (
    onlyFields(c, ['path', 'kmsKeyArn'], `${path}.${key}.`) ??
    str(c.path, `${path}.${key}.path`, { required: true, max: 256, pattern: S3_PATH }) ??
    str(c.kmsKeyArn, `${path}.${key}.kmsKeyArn`, { max: 2048, pattern: KMS_ARN })
  );
}

function tags(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v)) return violation(v, 'tags', 'Member must be a list');
  if (v.length > 200)
    return violation(`${v.length} tags`, 'tags', 'Member must have length less than or equal to 200');
  for (let i = 0; i < v.length; i++) {
    const t = v[i] as unknown;
    const p = `tags.${i + 1}.member`;
    const bad =
      obj(t, p, true) ??
      onlyFields(t as Record<string, unknown>, ['tagKey', 'tagValue'], `${p}.`) ??
      str((t as Record<string, unknown>).tagKey, `${p}.tagKey`, {
        required: true,
        min: 1,
        max: 128,
        pattern: TAG_TEXT,
      }) ??
      str((t as Record<string, unknown>).tagValue, `${p}.tagValue`, {
        required: true,
        max: 256,
        pattern: TAG_TEXT,
      });
    if (bad) return bad;
  }
  return null;
}

function inferenceConfig(v: unknown): string | null {
  const top = obj(v, 'batchInferenceJobConfig', false);
  if (top || v === undefined || v === null) return top;
  const c = v as Record<string, unknown>;
  const bad = onlyFields(c, ['itemExplorationConfig', 'rankingInfluence'], 'batchInferenceJobConfig.');
  if (bad) return bad;
  const explore = c.itemExplorationConfig;
  if (explore !== undefined && explore !== null) {
    const p = 'batchInferenceJobConfig.itemExplorationConfig';
    const e = obj(explore, p, false);
    if (e) return e;
    const entries = Object.entries(explore as Record<string, unknown>);
    if (entries.length > 100)
      return violation(`${entries.length} entries`, p, 'Member must have length less than or equal to 100');
    for (const [k, val] of entries) {
      const bad = str(k, `${p}.key`, { max: 256 }) ?? str(val, `${p}.${k}`, { required: true, max: 1000 });
      if (bad) return bad;
    }
  }
  const influence = c.rankingInfluence;
  if (influence !== undefined && influence !== null) {
    const p = 'batchInferenceJobConfig.rankingInfluence';
    const e = obj(influence, p, false);
    if (e) return e;
    for (const [k, val] of Object.entries(influence as Record<string, unknown>)) {
      if (!INFLUENCES.includes(k))
        return violation(k, `${p}.key`, `Member must satisfy enum value set: [${INFLUENCES.join(', ')}]`);
      if (typeof val !== 'number' || val < 0 || val > 1)
        return violation(val, `${p}.${k}`, 'Member must be a number from 0.0 to 1.0');
    }
  }
  return null;
}

function themeConfig(b: Record<string, unknown>): string | null {
  const mode = b.batchInferenceJobMode;
  if (mode !== undefined && mode !== null && (typeof mode !== 'string' || !MODES.includes(mode))) {
    return violation(
      mode,
      'batchInferenceJobMode',
      `Member must satisfy enum value set: [${MODES.join(', ')}]`,
    );
  }
  const v = b.themeGenerationConfig;
  const top = obj(v, 'themeGenerationConfig', false);
  if (top) return top;
  if (v !== undefined && v !== null) {
    const c = v as Record<string, unknown>;
    const bad =
      onlyFields(c, ['fieldsForThemeGeneration'], 'themeGenerationConfig.') ??
      obj(c.fieldsForThemeGeneration, 'themeGenerationConfig.fieldsForThemeGeneration', true);
    if (bad) return bad;
    const f = c.fieldsForThemeGeneration as Record<string, unknown>;
    const p = 'themeGenerationConfig.fieldsForThemeGeneration';
    const inner =
      onlyFields(f, ['itemName'], `${p}.`) ??
      str(f.itemName, `${p}.itemName`, { required: true, max: 150, pattern: COLUMN_NAME });
    if (inner) return inner;
  }
  if (mode === 'THEME_GENERATION' && (v === undefined || v === null)) {
    return 'themeGenerationConfig with fieldsForThemeGeneration.itemName is required when batchInferenceJobMode is THEME_GENERATION';
  }
  return null;
}

/** The first constraint a Create request breaks, or null. */
export function validateCreate(kind: JobKind, b: Record<string, unknown>): string | null {
  const inference = kind === 'batch-inference-job';
  return (
    onlyFields(b, inference ? INFERENCE_FIELDS : SEGMENT_FIELDS) ??
    str(b.jobName, 'jobName', { required: true, min: 1, max: 63, pattern: NAME }) ??
    str(b.solutionVersionArn, 'solutionVersionArn', { required: true, max: 256, pattern: ARN }) ??
    str(b.filterArn, 'filterArn', { max: 256, pattern: ARN }) ??
    positive(b.numResults, kind) ??
    s3Config(b.jobInput, 'jobInput', 's3DataSource') ??
    s3Config(b.jobOutput, 'jobOutput', 's3DataDestination') ??
    str(b.roleArn, 'roleArn', { required: true, max: 256, pattern: ROLE_ARN }) ??
    tags(b.tags) ??
    (inference ? (inferenceConfig(b.batchInferenceJobConfig) ?? themeConfig(b)) : null)
  );
}

/**
 * The model gives numResults no range. The emulator asks for a positive
 * integer, and for segments at most 5 million (the users-per-segment quota).
 */
function positive(v: unknown, kind: JobKind): string | null {
  return int(v, 'numResults', 1, kind === 'batch-segment-job' ? 5_000_000 : Number.MAX_SAFE_INTEGER);
}
