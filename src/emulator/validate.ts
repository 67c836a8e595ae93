/**
 * Request validation: the service model's constraints on each operation's members, answered in
 * the service's message style (the first constraint broken, or null).
 */
import type { JobKind } from './jobs.js';

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

/** The first constraint a Describe request breaks (its one member is `key`, the job's ARN), or null. */
export function validateDescribe(b: Record<string, unknown>, key: string): string | null {
  return onlyFields(b, [key]) ?? str(b[key], key, { required: true, max: 256, pattern: ARN });
}

/** The first constraint a List request breaks, or null. */
export function validateList(b: Record<string, unknown>): string | null {
  return (
    onlyFields(b, ['solutionVersionArn', 'nextToken', 'maxResults']) ??
    str(b.solutionVersionArn, 'solutionVersionArn', { max: 256, pattern: ARN }) ??
    str(b.nextToken, 'nextToken', { max: 1500 }) ??
    int(b.maxResults, 'maxResults', 1, 100)
  );
}

/**
 * The model gives numResults no range. The emulator asks for a positive
 * integer, and for segments at most 5 million (the users-per-segment quota).
 */
function positive(v: unknown, kind: JobKind): string | null {
  return int(v, 'numResults', 1, kind === 'batch-segment-job' ? 5_000_000 : Number.MAX_SAFE_INTEGER);
}
