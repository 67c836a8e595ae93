/**
 * The API operations over the job store: Create, Describe and List of both job types, each taking
 * the parsed JSON body and returning a reply in the service model's shapes; the wire layer
 * (personalize-server.ts) only moves bytes.
 */
import type { ErrorType, Fault } from './faults.js';
import type { EmulatedJob, Job, JobKind, JobSpec, JobStore } from './jobs.js';
import { listPage } from './pagination.js';
import { validateCreate, validateDescribe, validateList } from './validate.js';

export type Reply =
  | { ok: true; body: Record<string, unknown>; created?: EmulatedJob }
  | { ok: false; fault: Fault };

/** The operations the emulator implements. */
export const OPERATIONS = [
  'CreateBatchInferenceJob',
  'DescribeBatchInferenceJob',
  'ListBatchInferenceJobs',
  'CreateBatchSegmentJob',
  'DescribeBatchSegmentJob',
  'ListBatchSegmentJobs',
] as const;

/** Runs one operation on a parsed body. */
export function callOperation(store: JobStore, operation: string, body: unknown): Reply {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return fail('SerializationException', 'the request body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  switch (operation) {
    case 'CreateBatchInferenceJob':
      return create(store, 'batch-inference-job', b);
    case 'CreateBatchSegmentJob':
      return create(store, 'batch-segment-job', b);
    case 'DescribeBatchInferenceJob':
      return describe(store, 'batch-inference-job', b);
    case 'DescribeBatchSegmentJob':
      return describe(store, 'batch-segment-job', b);
    case 'ListBatchInferenceJobs':
      return list(store, 'batch-inference-job', b);
    case 'ListBatchSegmentJobs':
      return list(store, 'batch-segment-job', b);
    default:
      return fail(
        'UnknownOperationException',
        `operation ${operation} is not emulated; the personalize-batch emulator implements ${OPERATIONS.join(', ')}`,
      );
  }
}

function create(store: JobStore, kind: JobKind, b: Record<string, unknown>): Reply {
  const bad = validateCreate(kind, b);
  if (bad) return fail('InvalidInputException', bad);
  const jobName = b.jobName as string;
  const arn = `arn:aws:personalize:${store.o.region}:${store.o.account}:${kind}/${jobName}`;
  if (store.get(arn)) {
    return fail('ResourceAlreadyExistsException', `${label(kind)} ${arn} already exists`);
  }
  const busy = store.busy(kind);
  if (busy >= store.o.maxRunning) {
    return fail(
      'LimitExceededException',
      `${busy} ${label(kind)}s are already pending or in progress; the limit is ${store.o.maxRunning} per region`,
    );
  }
  const job = store.add(arn, structuredClone(b), specOf(kind, b));
  const key = kind === 'batch-inference-job' ? 'batchInferenceJobArn' : 'batchSegmentJobArn';
  return { ok: true, body: { [key]: arn }, created: store.snapshot(job) };
}

/** What the runner needs from a valid Create request. */
function specOf(kind: JobKind, b: Record<string, unknown>): JobSpec {
  const theme = (b.themeGenerationConfig as { fieldsForThemeGeneration?: { itemName?: string } } | undefined)
    ?.fieldsForThemeGeneration?.itemName;
  return {
    kind,
    jobName: b.jobName as string,
    solutionVersionArn: b.solutionVersionArn as string,
    inputPath: (b.jobInput as { s3DataSource: { path: string } }).s3DataSource.path,
    outputPath: (b.jobOutput as { s3DataDestination: { path: string } }).s3DataDestination.path,
    numResults: b.numResults as number | undefined,
    themes: b.batchInferenceJobMode === 'THEME_GENERATION' && theme ? { itemName: theme } : undefined,
  };
}

function describe(store: JobStore, kind: JobKind, b: Record<string, unknown>): Reply {
  const key = kind === 'batch-inference-job' ? 'batchInferenceJobArn' : 'batchSegmentJobArn';
  const bad = validateDescribe(b, key);
  if (bad) return fail('InvalidInputException', bad);
  const job = store.get(b[key] as string);
  if (!job || job.kind !== kind) {
    return fail('ResourceNotFoundException', `Could not find ${label(kind)}: ${String(b[key])}`);
  }
  const field = kind === 'batch-inference-job' ? 'batchInferenceJob' : 'batchSegmentJob';
  return { ok: true, body: { [field]: describeShape(store, job) } };
}

function list(store: JobStore, kind: JobKind, b: Record<string, unknown>): Reply {
  const bad = validateList(b);
  if (bad) return fail('InvalidInputException', bad);
  const max = (b.maxResults as number | undefined) ?? 100;
  const listed = listPage(
    store.records(),
    kind,
    b.solutionVersionArn as string | undefined,
    b.nextToken as string | undefined,
    max,
  );
  if (!listed) return fail('InvalidNextTokenException', 'the nextToken is not one this List call returned');
  const items = listed.page.map((j) => summaryShape(store, j));
  const body: Record<string, unknown> = {
    [kind === 'batch-inference-job' ? 'batchInferenceJobs' : 'batchSegmentJobs']: items,
  };
  if (listed.nextToken) body.nextToken = listed.nextToken;
  return { ok: true, body };
}

/** The Describe shape (BatchInferenceJob / BatchSegmentJob in the model). */
function describeShape(store: JobStore, j: Job): Record<string, unknown> {
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
    status: store.status(j.phase),
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
function summaryShape(store: JobStore, j: Job): Record<string, unknown> {
  const inference = j.kind === 'batch-inference-job';
  const r = j.result;
  return dropUndefined({
    [inference ? 'batchInferenceJobArn' : 'batchSegmentJobArn']: j.arn,
    jobName: j.jobName,
    status: store.status(j.phase),
    creationDateTime: j.createdMs / 1000,
    lastUpdatedDateTime: j.updatedMs / 1000,
    failureReason: j.phase === 'failed' && r && !r.ok ? r.reason : undefined,
    solutionVersionArn: j.request.solutionVersionArn,
    batchInferenceJobMode: inference ? (j.request.batchInferenceJobMode ?? 'BATCH_INFERENCE') : undefined,
  });
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
