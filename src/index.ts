/**
 * personalize-batch as a library. Every CLI stage is a typed function here;
 * the core (families, record building, validation, CSV splitting) has no
 * stream code and can be used on records directly.
 */
export { type CliIO, describePrepare, run } from './cli/index.js';
export { buildAttributeQuery, checkAttributeQuery, escapeAttributeValue } from './core/attributes.js';
export {
  type BatchInput,
  type BuildOptions,
  type Built,
  type FilterSpec,
  formatFilterValue,
  makeRowBuilder,
  parseTime,
} from './core/build.js';
export { findColumn } from './core/columns.js';
export { parseSince, parseTimestamp, TIME_FORMS } from './core/dates.js';
export {
  FAMILIES,
  type Family,
  type FamilyInfo,
  familyInfo,
  type KeyField,
  resolveFamily,
} from './core/families.js';
export { type ParsedRow, RecordSplitter, type SplitterOptions } from './core/lines.js';
export { EXPORT_FORMATS, type ExportFormat, type Layout } from './core/out-convert.js';
export { type OutKeyField, type OutKind, OutLineParser } from './core/out-lines.js';
export {
  DELIMITERS,
  HEADER_WORDS,
  jsonLayout,
  oneColumnHasHeader,
  parseDelimiter,
  sniffBinary,
  sniffDelimiter,
} from './core/sniff.js';
export { parseBytes, parseCount } from './core/units.js';
export {
  checkRecord,
  DEFAULT_LIMITS,
  type Limits,
  looksLikeEmail,
  type Problem,
  type RecordPolicy,
} from './core/validate.js';
export {
  DEFAULT_QUOTAS,
  EMULATOR_DEFAULTS,
  type EmulatedJob,
  type Emulator,
  type EmulatorOptions,
  type Faults,
  type Quotas,
  type RequestEvent,
  startEmulator,
} from './emulator/index.js';
export { isPbError, PbError, type PbErrorCode, type PbErrorContext } from './errors.js';
export type { PersonalizeConnection, PersonalizeSettings, S3Connection } from './io/clients.js';
export { openSource } from './io/input.js';
export { expandOutSources, readOutItems } from './io/out-reader.js';
export { AtomicFile } from './io/output.js';
export { type Detection, FORMATS, type Format, type Row, type RowSource, readRows } from './io/rows.js';
export type { S3Options } from './io/s3.js';
export { openText, type TextInfo } from './io/text.js';
export { emailListCsv } from './sample.js';
export { loadSchema, SCHEMA_DIR, validator } from './schemas.js';
export {
  COLLECT_DEFAULTS,
  type CollectOptions,
  type CollectSummary,
  collect,
} from './stages/collect/index.js';
export {
  EXPORT_DEFAULTS,
  type ExportOptions,
  type ExportSummary,
  exportOutputs,
  type OutputItem,
  type OutputRecord,
  type OutputSource,
  type ReadOutputEvent,
  type ReadOutputOptions,
  type ReadOutputSummary,
  readOutput,
  resolveExportOptions,
} from './stages/export/index.js';
export {
  createExportStream,
  type ExportEvent,
  type ExportStreamOptions,
} from './stages/export/stream.js';
export {
  JOB_DEFAULTS,
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
  PREPARE_DEFAULTS,
  type PrepareEvent,
  type PrepareOptions,
  type PrepareProgress,
  type PrepareRecordsOptions,
  type PrepareStreamOptions,
  type PrepareSummary,
  prepare,
  prepareChunks,
  prepareRecords,
  type RecordSource,
  type Reject,
  resolvePrepareOptions,
} from './stages/prepare/index.js';
export {
  type RunEvent,
  type RunOptions,
  type RunSummary,
  runPipeline,
  type Stage,
} from './stages/run/index.js';
export {
  loadPipeline,
  PIPELINE_DEFAULTS,
  type Pipeline,
  type PipelineFile,
  resolvePipeline,
  workLayout,
} from './stages/run/pipeline.js';
export {
  type Manifest,
  SHARD_DEFAULTS,
  type ShardFileInfo,
  type ShardInfo,
  type ShardOptions,
  type ShardSummary,
  shard,
  shardName,
} from './stages/shard/index.js';
export {
  type ValidateOptions,
  type ValidateSummary,
  type ValidationProblem,
  validateFiles,
} from './stages/validate/index.js';
