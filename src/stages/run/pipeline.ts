/**
 * The pipeline file of `run`: read, checked against schemas/pipeline.schema.json
 * and the rules a schema cannot say, and resolved once into typed options for
 * every stage. Every mistake is reported with its JSON path, all at once,
 * before anything is uploaded or any job is created.
 */
import { readFile } from 'node:fs/promises';
import type { ErrorObject } from 'ajv';
import { PbError } from '../../errors.js';
import { readJsonDoc } from '../../io/doc.js';
import { BUCKET_NAME_RULE, isS3Uri } from '../../io/s3.js';
import { configValidator } from '../../schemas.js';
import { resolveChecked } from './pipeline-rules.js';
import {
  PIPELINE_DEFAULTS,
  PIPELINE_OPTION_NAMES,
  type Pipeline,
  type PipelineFile,
} from './pipeline-types.js';

export { PIPELINE_DEFAULTS, PIPELINE_OPTION_NAMES, type Pipeline, type PipelineFile };

/** Where each part of a run goes under the work prefix (also the scope of the IAM policy in the README). */
export function workLayout(work: string): {
  input: string;
  manifest: string;
  output: string;
  state: string;
  run: string;
} {
  return {
    input: `${work}input/`,
    manifest: `${work}input/manifest.json`,
    output: `${work}output/`,
    state: `${work}output/state.json`,
    run: `${work}run.json`,
  };
}

/** Reads, checks and resolves a pipeline file (local or s3://). */
export async function loadPipeline(file: string): Promise<Pipeline> {
  let value: unknown;
  try {
    value = await readJsonDoc(file);
  } catch (err) {
    if (!(err instanceof PbError)) throw err;
    // A pipeline file that cannot be read or parsed is the user's to fix: a usage error (exit 2).
    throw new PbError('PB_USAGE', await describeReadError(file, err), { file }, { cause: err });
  }
  return resolvePipeline(value, file);
}

/** "not valid JSON ... at position 49" as "line 3, column 5: ...", where the text can be read again. */
async function describeReadError(file: string, err: PbError): Promise<string> {
  const at = /at position (\d+)/.exec(err.reason);
  if (err.code !== 'PB_PARSE' || !at || isS3Uri(file)) return err.reason;
  const text = await readFile(file, 'utf8').catch(() => '');
  const before = text.slice(0, Number(at[1])).split('\n');
  return `line ${before.length}, column ${(before.at(-1) ?? '').length + 1}: ${err.reason.replace(/ in JSON at position \d+.*$/, '')}`;
}

/**
 * Checks a pipeline value and resolves it; `file` names it in messages and anchors relative paths.
 * Every problem comes in one report: the schema's, and the rules' on every field the schema let
 * through (a recipe typo and a weight out of range are not left for the next run to find).
 */
export function resolvePipeline(value: unknown, file: string): Pipeline {
  const check = configValidator('pipeline.schema.json');
  const schemaProblems: string[] = [];
  if (!check(value)) {
    // A oneOf's branches each report why they did not match; the oneOf's own error says it better.
    const errors = (check.errors ?? []).filter((e) => !/\/oneOf\/\d+\//.test(e.schemaPath));
    schemaProblems.push(...new Set(errors.map(describeSchemaError)));
  }
  const lenient = schemaProblems.length > 0;
  const problems: string[] = [];
  let resolved: Pipeline | undefined;
  try {
    resolved = resolveChecked(
      (value !== null && typeof value === 'object' ? value : {}) as PipelineFile,
      file,
      problems,
      lenient,
    );
  } catch (err) {
    // A shape the schema refused can break a rule's reading of it: the schema's report says why.
    if (!lenient || err instanceof PbError) throw err;
  }
  const pathOf = (problem: string) => problem.slice(0, problem.indexOf(': '));
  const reported = new Set(schemaProblems.map(pathOf));
  const all = [...schemaProblems, ...problems.filter((x) => !reported.has(pathOf(x)))];
  if (all.length > 0 || !resolved) throw pipelineError(file, all);
  return resolved;
}

function pipelineError(file: string, problems: readonly string[]): PbError {
  const list =
    problems.length === 1
      ? (problems[0] as string)
      : `${problems.length} problems:\n  ${problems.join('\n  ')}`;
  return new PbError('PB_USAGE', list, { file });
}

/** `/jobs/numResults` as `$.jobs.numResults`, `/input/sources/0` as `$.input.sources[0]`. */
export function jsonPath(pointer: string): string {
  let path = '$';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(part)) path += `[${part}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(part)) path += `.${part}`;
    else path += `[${JSON.stringify(part)}]`;
  }
  return path;
}

/** One ajv error in plain words, behind the JSON path it is about. */
function describeSchemaError(e: ErrorObject): string {
  const path = jsonPath(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required':
      return `${jsonPath(`${e.instancePath}/${String(params.missingProperty)}`)}: is required`;
    case 'additionalProperties':
      return `${jsonPath(`${e.instancePath}/${String(params.additionalProperty)}`)}: unknown field`;
    case 'enum':
      return `${path}: must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `${path}: must be ${JSON.stringify(params.allowedValue)}`;
    case 'oneOf':
      return `${path}: ${ONE_OF_HINT[e.schemaPath.split('/').slice(-2, -1)[0] ?? ''] ?? 'has the wrong type'}`;
    case 'pattern':
      return `${path}: ${PATTERN_HINT[e.schemaPath] ?? `does not match ${String(params.pattern)}`}`;
    default:
      return `${path}: ${e.message ?? 'is not valid'}`;
  }
}

const ONE_OF_HINT: Record<string, string> = {
  size: 'must be a number of bytes or a size such as "500MB"',
  count: 'must be a whole number or a count such as "10M"',
  duration: 'must be seconds or a duration such as "60s"',
};

const PATTERN_HINT: Record<string, string> = {
  '#/definitions/s3Prefix/pattern': `must be an S3 prefix such as s3://bucket/prefix/, its bucket name ${BUCKET_NAME_RULE}`,
  '#/definitions/arn/pattern': 'must be an ARN (arn:aws:...)',
  '#/properties/jobs/properties/jobNamePrefix/pattern':
    'must be 1 to 30 letters, digits, - or _, starting with a letter or digit',
  '#/properties/aws/properties/region/pattern': 'must be a region such as us-east-1',
};
