// The run's options, and the connections they resolve to once the pipeline file is read.
import type { S3Options } from '../../io/s3.js';
import { defined } from '../jobs/index.js';
import { regionOfArn } from '../jobs/model.js';
import type { PersonalizeSettings } from '../jobs/service.js';
import type { Pipeline } from './pipeline.js';
import type { RunEvent } from './types.js';

export interface RunOptions {
  /** The pipeline file (local or s3://), or one already loaded. */
  pipeline: string | Pipeline;
  /** Work out the plan (reading and sharding the input in a local temporary folder) without uploading or creating anything. */
  dryRun?: boolean;
  /** S3 settings that win over the pipeline's `aws` section (the CLI's --region, --endpoint-url, --profile). */
  s3?: S3Options;
  personalize?: PersonalizeSettings;
  /**
   * What the caller's environment names (the CLI passes AWS_REGION or AWS_DEFAULT_REGION, and
   * AWS_ENDPOINT_URL_S3): the pipeline's `aws` section wins over it, and its region wins over the
   * model ARN's for the work bucket.
   */
  environment?: { region?: string; s3Endpoint?: string };
  onEvent?: (e: RunEvent) => void;
}

/** Where the run's S3 and Personalize calls go. */
export interface RunConnections {
  /** Only the settings something named; the rest stays as the S3 client had it. */
  s3: S3Options;
  personalize: PersonalizeSettings;
}

/**
 * The connections, each setting from the first that names it: the caller's options (the CLI's
 * flags), the pipeline's `aws` section, the environment, then the model ARN's region (the work
 * bucket must be in the model's region: a better guess than none).
 */
export function resolveConnections(p: Pipeline, options: RunOptions): RunConnections {
  const arnRegion = regionOfArn(p.jobs.solutionVersionArn);
  const env = options.environment ?? {};
  const s3 = defined({
    region: p.aws.region ?? env.region ?? arnRegion,
    profile: p.aws.profile,
    endpoint: p.aws.s3Endpoint ?? env.s3Endpoint,
    ...defined(options.s3 ?? {}),
  });
  const personalize: PersonalizeSettings = {
    // Jobs go where the model is unless the pipeline or the CLI says otherwise.
    region: p.aws.region ?? arnRegion,
    profile: p.aws.profile,
    endpoint: p.aws.personalizeEndpoint,
    ...defined(options.personalize ?? {}),
  };
  return { s3, personalize };
}
