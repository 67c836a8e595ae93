/**
 * The few Personalize calls the orchestrator makes, the same for batch
 * inference and batch segment jobs, with the service's errors sorted into
 * what the orchestrator does about them.
 */

import {
  CreateBatchInferenceJobCommand,
  type CreateBatchInferenceJobCommandInput,
  CreateBatchSegmentJobCommand,
  type CreateBatchSegmentJobCommandInput,
  DescribeBatchInferenceJobCommand,
  DescribeBatchSegmentJobCommand,
  ListBatchInferenceJobsCommand,
  ListBatchSegmentJobsCommand,
  type PersonalizeClient,
} from '@aws-sdk/client-personalize';
import { PbError } from '../../errors.js';
import { NO_REGION } from '../../io/s3.js';
import type { JobKind } from './model.js';

/** What Describe and List tell about a job. */
export interface JobView {
  name: string;
  arn: string;
  status: string;
  failureReason?: string;
  solutionVersionArn?: string;
  creationDateTime?: Date;
  lastUpdatedDateTime?: Date;
  numResults?: number;
}

/** The service said "not now" (LimitExceeded for the quota or the rate, throttling): try again at the next poll. */
export class Throttled extends Error {}
/** Thrown by `create` when a job of that name exists (a crash between Create and writing the state). */
export class AlreadyExists extends Error {}

export interface JobService {
  create(kind: JobKind, request: Record<string, unknown>): Promise<string>;
  /** null when the service does not know the ARN. */
  describe(kind: JobKind, arn: string): Promise<JobView | null>;
  /** Every job of the kind in the region (the account's other jobs too), or those of one solution version. */
  list(kind: JobKind, solutionVersionArn?: string): AsyncIterable<JobView>;
}

export type { PersonalizeConnection, PersonalizeSettings } from '../../io/clients.js';

const THROTTLE = new Set([
  'LimitExceededException',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
]);

function nameOf(err: unknown): string {
  return String((err as { name?: string })?.name ?? '');
}

/** Plain words for a refused call, naming the operation and the job. */
export function serviceError(op: string, subject: string, err: unknown): PbError {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  let reason = `${op} failed: ${e.name ?? 'error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`;
  if (e.name === 'AccessDeniedException')
    reason +=
      ' (the caller needs personalize:CreateBatch*, DescribeBatch*, ListBatch* and iam:PassRole on the role)';
  if (e.name === 'InvalidInputException')
    reason = `${op}: the service refused the request: ${e.message ?? ''}`;
  if (e.name === 'Error' && e.message === 'Region is missing') reason = `${op}: ${NO_REGION}`;
  return new PbError('PB_JOB', reason, { file: subject }, { cause: err });
}

/** The service through a client; `signal` cancels the call in flight when the caller aborts. */
export function personalizeService(client: PersonalizeClient, signal?: AbortSignal): JobService {
  const opts = { abortSignal: signal };
  return {
    async create(kind, request) {
      try {
        if (kind === 'segment') {
          const r = await client.send(
            new CreateBatchSegmentJobCommand(request as unknown as CreateBatchSegmentJobCommandInput),
            opts,
          );
          return r.batchSegmentJobArn ?? '';
        }
        const r = await client.send(
          new CreateBatchInferenceJobCommand(request as unknown as CreateBatchInferenceJobCommandInput),
          opts,
        );
        return r.batchInferenceJobArn ?? '';
      } catch (err) {
        const n = nameOf(err);
        if (THROTTLE.has(n)) throw new Throttled((err as Error).message);
        if (n === 'ResourceAlreadyExistsException') throw new AlreadyExists((err as Error).message);
        throw serviceError(
          kind === 'segment' ? 'CreateBatchSegmentJob' : 'CreateBatchInferenceJob',
          String(request.jobName),
          err,
        );
      }
    },

    async describe(kind, arn) {
      try {
        if (kind === 'segment') {
          const j = (await client.send(new DescribeBatchSegmentJobCommand({ batchSegmentJobArn: arn }), opts))
            .batchSegmentJob;
          return j ? view(j.jobName, j.batchSegmentJobArn, j) : null;
        }
        const j = (
          await client.send(new DescribeBatchInferenceJobCommand({ batchInferenceJobArn: arn }), opts)
        ).batchInferenceJob;
        return j ? view(j.jobName, j.batchInferenceJobArn, j) : null;
      } catch (err) {
        const n = nameOf(err);
        if (THROTTLE.has(n)) throw new Throttled((err as Error).message);
        if (n === 'ResourceNotFoundException') return null;
        // A malformed ARN of another account or type is "not ours", not a failure.
        if (n === 'InvalidInputException') return null;
        throw serviceError(
          kind === 'segment' ? 'DescribeBatchSegmentJob' : 'DescribeBatchInferenceJob',
          arn,
          err,
        );
      }
    },

    list: (kind, solutionVersionArn) => listJobs(client, opts, kind, solutionVersionArn),
  };
}

/** Every job of the kind, page by page. */
async function* listJobs(
  client: PersonalizeClient,
  opts: { abortSignal?: AbortSignal },
  kind: JobKind,
  solutionVersionArn: string | undefined,
): AsyncGenerator<JobView> {
  let nextToken: string | undefined;
  do {
    try {
      if (kind === 'segment') {
        const r = await client.send(
          new ListBatchSegmentJobsCommand({ solutionVersionArn, nextToken, maxResults: 100 }),
          opts,
        );
        for (const j of r.batchSegmentJobs ?? []) yield view(j.jobName, j.batchSegmentJobArn, j);
        nextToken = r.nextToken ?? undefined;
      } else {
        const r = await client.send(
          new ListBatchInferenceJobsCommand({ solutionVersionArn, nextToken, maxResults: 100 }),
          opts,
        );
        for (const j of r.batchInferenceJobs ?? []) yield view(j.jobName, j.batchInferenceJobArn, j);
        nextToken = r.nextToken ?? undefined;
      }
    } catch (err) {
      if (THROTTLE.has(nameOf(err))) throw new Throttled((err as Error).message);
      throw serviceError(
        kind === 'segment' ? 'ListBatchSegmentJobs' : 'ListBatchInferenceJobs',
        solutionVersionArn ?? 'all jobs',
        err,
      );
    }
  } while (nextToken);
}

function view(
  name: string | undefined,
  arn: string | undefined,
  j: {
    status?: string;
    failureReason?: string;
    solutionVersionArn?: string;
    creationDateTime?: Date;
    lastUpdatedDateTime?: Date;
    numResults?: number;
  },
): JobView {
  return {
    name: name ?? '',
    arn: arn ?? '',
    status: j.status ?? '',
    failureReason: j.failureReason || undefined,
    solutionVersionArn: j.solutionVersionArn,
    creationDateTime: j.creationDateTime,
    lastUpdatedDateTime: j.lastUpdatedDateTime,
    numResults: j.numResults,
  };
}
