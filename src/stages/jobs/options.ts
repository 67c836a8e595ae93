/**
 * The options of submit, wait and status, their defaults, and their resolution: undefined entries
 * dropped, the defaults filled in and the values checked once, before any file is read.
 */
import { PbError } from '../../errors.js';
import { type PersonalizeConnection, resolvePersonalize, type S3Connection } from '../../io/clients.js';
import { isS3Uri } from '../../io/s3.js';
import type { JobOptions } from './model.js';
import type { JobEvent } from './report.js';
import { type JobService, personalizeService } from './service.js';

export interface CommonOptions {
  /** Personalize client config, or a ready `PersonalizeClient` (used as it is, left open). Default: the SDK's chain. */
  personalize?: PersonalizeConnection;
  /** For the manifest and the state file on s3://: S3 client config or a ready `S3Client`. Default: the SDK's chain. */
  s3?: S3Connection;
  /** A ready service in place of `personalize` (tests). */
  service?: JobService;
  /** Poll interval, jittered ±20% so many runs do not call in step. Default 60 s (the AWS samples' interval). */
  pollIntervalMs?: number;
  onEvent?: (e: JobEvent) => void;
  /**
   * Stops the run: the wait between polls at once, a call in flight cancelled. The state file stays
   * as written (a Create cut off keeps its attempt, found by name on the next run, never paid for
   * twice) and the call rejects with an AbortError.
   */
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

export const JOB_DEFAULTS = {
  pollIntervalMs: 60_000,
  maxRunning: 5,
  retryFailed: 0,
  jobNamePrefix: 'pb',
} as const;

/** What a run of jobs works with, the defaults filled in. */
export type RunOptions = Required<
  Pick<SubmitOptions, 'pollIntervalMs' | 'maxRunning' | 'retryFailed' | 'jobNamePrefix'>
> &
  Partial<JobOptions> &
  CommonOptions;

/** Submit's options with the defaults, checked before the manifest is read. */
export function resolveSubmitOptions(options: SubmitOptions): SubmitOptions & RunOptions {
  const o = { ...JOB_DEFAULTS, ...defined(options) };
  if (!isS3Uri(o.output))
    throw new PbError('PB_USAGE', 'the jobs write to S3: --output must be s3://bucket/prefix/', {
      field: '--output',
    });
  if (!(Number.isInteger(o.maxRunning) && o.maxRunning >= 1))
    throw new PbError('PB_USAGE', '--max-running must be at least 1');
  return o;
}

/** Wait's and status's options with the defaults: they follow a run and never resubmit. */
export function resolveWaitOptions(options: WaitOptions): WaitOptions & RunOptions {
  return { ...JOB_DEFAULTS, ...defined(options), retryFailed: 0 };
}

/** The service the options give, or one through their Personalize connection; `close` destroys a client made here. */
export function jobService(o: CommonOptions): { service: JobService; close: () => void } {
  if (o.service) return { service: o.service, close: () => {} };
  const { client, owned } = resolvePersonalize(o.personalize);
  return { service: personalizeService(client, o.signal), close: () => owned && client.destroy() };
}

/** Options without their undefined entries, so they never hide a default (the CLI passes every option). */
export function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
