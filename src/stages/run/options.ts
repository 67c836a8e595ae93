// The run's options, and the connections they resolve to once the pipeline file is read.
import type { PersonalizeClient } from '@aws-sdk/client-personalize';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  isClient,
  type PersonalizeConnection,
  type PersonalizeSettings,
  type S3Connection,
} from '../../io/clients.js';
import type { S3Options } from '../../io/s3.js';
import { defined } from '../jobs/index.js';
import { regionOfArn } from '../jobs/model.js';
import type { Pipeline } from './pipeline.js';
import type { RunEvent } from './types.js';

export interface RunOptions {
  /** The pipeline file (local or s3://), or one already loaded. */
  pipeline: string | Pipeline;
  /** Work out the plan (reading and sharding the input in a local temporary folder) without uploading or creating anything. */
  dryRun?: boolean;
  /**
   * S3 settings that win over the pipeline's `aws` section (the CLI's --region, --endpoint-url,
   * --profile), or a ready `S3Client` used as it is (the `aws` section then does not apply to S3).
   */
  s3?: S3Connection;
  /** Personalize settings that win over the pipeline's `aws` section, or a ready `PersonalizeClient`. */
  personalize?: PersonalizeConnection;
  /**
   * What the caller's environment names (the CLI passes AWS_REGION or AWS_DEFAULT_REGION, and
   * AWS_ENDPOINT_URL_S3): the pipeline's `aws` section wins over it, and its region wins over the
   * model ARN's for the work bucket.
   */
  environment?: { region?: string; s3Endpoint?: string };
  onEvent?: (e: RunEvent) => void;
  /**
   * Stops the run at the next chunk or poll: the step in progress removes its temporary files and
   * partial outputs, WORK/run.json keeps the steps already done, the jobs' state file keeps every
   * job created (a rerun resumes and pays for none twice), and the call rejects with an AbortError.
   */
  signal?: AbortSignal;
}

/** Where the run's S3 and Personalize calls go. */
export interface RunConnections {
  /** Only the settings something named (the rest from the SDK's chain), or the caller's client. */
  s3: S3Connection;
  personalize: PersonalizeConnection;
}

/**
 * The connections, each setting from the first that names it: the caller's options (the CLI's
 * flags), the pipeline's `aws` section, the environment, then the model ARN's region (the work
 * bucket must be in the model's region: a better guess than none).
 */
export function resolveConnections(p: Pipeline, options: RunOptions): RunConnections {
  const arnRegion = regionOfArn(p.jobs.solutionVersionArn);
  const env = options.environment ?? {};
  const s3: S3Connection = isClient<S3Client>(options.s3)
    ? options.s3
    : defined<S3Options>({
        region: p.aws.region ?? env.region ?? arnRegion,
        profile: p.aws.profile,
        endpoint: p.aws.s3Endpoint ?? env.s3Endpoint,
        ...defined((options.s3 as S3Options | undefined) ?? {}),
      });
  if (isClient<PersonalizeClient>(options.personalize)) return { s3, personalize: options.personalize };
  const personalize: PersonalizeSettings = {
    // Jobs go where the model is unless the pipeline or the CLI says otherwise.
    region: p.aws.region ?? arnRegion,
    profile: p.aws.profile,
    endpoint: p.aws.personalizeEndpoint,
    ...defined((options.personalize as PersonalizeSettings | undefined) ?? {}),
  };
  return { s3, personalize };
}
