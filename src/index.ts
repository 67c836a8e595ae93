/**
 * personalize-batch as a library: the names the README's "Library" section
 * documents, and nothing else. What is not here is internal and may change
 * without notice; test/index.test.ts holds the list of runtime names, so a
 * change to it is a visible one. The emulator is its own entry point,
 * `personalize-batch/emulator`, so importing this loads neither s3rver nor koa.
 */

export type { ExportFormat } from './core/out-convert.js';
export { isPbError, PbError, type PbErrorCode, type PbErrorContext } from './errors.js';
export type { PersonalizeConnection, PersonalizeSettings, S3Connection } from './io/clients.js';
export type { S3Options } from './io/s3.js';
export {
  type CollectEvent,
  type CollectOptions,
  type CollectSummary,
  collect,
} from './stages/collect/index.js';
export {
  type ConcatOptions,
  type ConcatSummary,
  concatParts,
  type ExportOptions,
  type ExportSummary,
  exportOutputs,
  type OutputItem,
  type OutputRecord,
  type OutputSource,
  type PartOptions,
  type PartSummary,
  type ReadOutputEvent,
  type ReadOutputOptions,
  type ReadOutputSummary,
  readOutput,
} from './stages/export/index.js';
export { createExportStream, type ExportEvent, type ExportStreamOptions } from './stages/export/stream.js';
export {
  type JobEvent,
  type JobRow,
  type JobsSummary,
  jobStatus,
  type StatusCounts,
  type SubmitOptions,
  submit,
  type WaitOptions,
  waitJobs,
} from './stages/jobs/index.js';
export {
  createPrepareStream,
  type OnInvalid,
  type PrepareEvent,
  type PrepareOptions,
  type PrepareProgress,
  type PrepareRecordsOptions,
  type PrepareStreamOptions,
  type PrepareSummary,
  prepare,
  prepareRecords,
  type RecordSource,
  type Reject,
} from './stages/prepare/index.js';
export {
  type RankScores,
  type ReportBin,
  type ReportEvent,
  type ReportJson,
  type ReportOptions,
  type ReportSummary,
  report,
  type TopItem,
} from './stages/report/index.js';
export {
  type RunEvent,
  type RunOptions,
  type RunSummary,
  runPipeline,
  type Stage,
} from './stages/run/index.js';
export { loadPipeline, type Pipeline, type PipelineFile } from './stages/run/pipeline.js';
export {
  type Manifest,
  type ShardEvent,
  type ShardFileInfo,
  type ShardInfo,
  type ShardOptions,
  type ShardSummary,
  shard,
} from './stages/shard/index.js';
export {
  type ValidateEvent,
  type ValidateOptions,
  type ValidateSummary,
  type ValidationProblem,
  validateFiles,
} from './stages/validate/index.js';
