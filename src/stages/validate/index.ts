import { docKindOfKeys, wrongKind } from '../../core/doc-kind.js';
import type { FamilyInfo } from '../../core/families.js';
import { CLI_OPTION_NAMES, type OptionNames } from '../../core/sniff.js';
import { checkRecord, type Limits, legacyPopularityLine, type RecordPolicy } from '../../core/validate.js';
import { formatPosition, PbError } from '../../errors.js';
import {
  type ResolvedValidateOptions,
  resolveValidateOptions,
  type ValidateOptions,
  type ValidationProblem,
} from './options.js';

export {
  type ResolvedValidateOptions,
  resolveValidateOptions,
  VALIDATE_DEFAULTS,
  type ValidateEvent,
  type ValidateOptions,
  type ValidationProblem,
} from './options.js';

import { withCall } from '../../io/clients.js';
import { expandJobInputs } from '../../io/doc-kind.js';
import { ReadAhead } from '../../io/read-ahead.js';
import { type Row, type RowSource, readRows } from '../../io/rows.js';
import { type OpenedText, openText } from '../../io/text.js';

export interface ValidateSummary {
  family: string;
  files: number;
  records: number;
  invalidRecords: number;
  problems: number;
  reported: number;
  blankLines: number;
  bytes: number;
  seconds: number;
  /** Not problems, but worth a word (Popularity-Count lines in an older shape). */
  warnings: string[];
}

/** What every part of one validation shares: the family, the limits, the summary and the report. */
interface Checker {
  family: FamilyInfo;
  limits: Limits;
  policy: RecordPolicy;
  options: ResolvedValidateOptions;
  s: ValidateSummary;
  report: (p: ValidationProblem) => void;
  /** Popularity-Count lines of an older AWS example, counted for one warning. */
  legacy: number;
  /** Told the records read so far in the file being checked, after each batch. */
  tick: (recordsInFile: number) => void;
}

/**
 * Checks batch-input JSON Lines against the family's schema and the service
 * quotas: per line (ids, itemList, item attribute queries, filterValues) and
 * per file (records per file, segment queries per file) and per job (files, bytes).
 */
export function validateFiles(options: ValidateOptions): Promise<ValidateSummary> {
  return withCall(options, () => validateFilesNow(options));
}

async function validateFilesNow(options: ValidateOptions): Promise<ValidateSummary> {
  const o = resolveValidateOptions(options);
  const { family } = o;
  const started = process.hrtime.bigint();
  const s: ValidateSummary = {
    family: family.family,
    files: o.files.length,
    records: 0,
    invalidRecords: 0,
    problems: 0,
    reported: 0,
    blankLines: 0,
    bytes: 0,
    seconds: 0,
    warnings: [],
  };
  const c: Checker = {
    family,
    limits: o.limits,
    policy: o.policy,
    options: o,
    s,
    report: (p) => {
      s.problems++;
      if (s.reported < o.maxReported) {
        s.reported++;
        o.onProblem?.(`${formatPosition({ file: p.file, line: p.line })}${p.field}: ${p.reason}`, p);
      }
    },
    legacy: 0,
    tick: ticker(o, s),
  };
  const jobs = await jobInputs(o.files);
  const files = jobs.flatMap((j) => j.files);
  s.files = files.length;
  /** Each file's records and bytes, for the per-job quotas. */
  const perFile = new Map<string, { records: number; bytes: number }>();
  const ahead = new ReadAhead(
    files,
    (file) => openText(file, { stdin: o.stdin }, { names: VALIDATE_NAMES }),
    (text) => text.close(),
    READ_AHEAD,
  );
  try {
    for (const [i, file] of files.entries())
      await checkNext(c, file, ahead.take(i), perFile, files.length > 1);
  } finally {
    await ahead.close();
  }
  o.onEvent?.({ type: 'progress', records: s.records, bytesRead: s.bytes, problems: s.problems });
  for (const job of jobs) checkJob(c, job, perFile);
  if (c.legacy > 0) {
    s.warnings.push(
      `${c.legacy} Popularity-Count line${c.legacy === 1 ? ' has' : 's have'} no userId ({} or {"itemId": ...}, as an older AWS example shows); the service's current docs show {"userId": "..."} lines`,
    );
  }
  s.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return s;
}

/**
 * The files to check, by the job that would read them. Folders, S3 prefixes and manifests (by
 * content) stand for the files they hold; files named one by one are taken as one job's input, as
 * before; a folder or prefix is one job's input, and a manifest's shards one job each.
 */
async function jobInputs(given: readonly string[]): Promise<{ job: string; files: string[] }[]> {
  const expanded = await expandJobInputs(given, { manifests: 'expand' });
  const named = expanded.filter((j) => j.from === 'file').flatMap((j) => j.files);
  return [
    ...(named.length > 0
      ? [{ job: named.length === 1 ? (named[0] as string) : '(all files)', files: named }]
      : []),
    ...expanded.filter((j) => j.from !== 'file'),
  ];
}

/** The job quotas, for the files one job reads: at least one record, 1,000 files, the bytes. */
function checkJob(
  c: Checker,
  job: { job: string; files: string[] },
  perFile: Map<string, { records: number; bytes: number }>,
): void {
  let records = 0;
  let bytes = 0;
  for (const f of job.files) {
    records += perFile.get(f)?.records ?? 0;
    bytes += perFile.get(f)?.bytes ?? 0;
  }
  const where = { file: job.job, field: '(job)' };
  if (records === 0 && c.s.problems === 0)
    c.report({ ...where, reason: 'no records: a batch job needs at least one (on an empty input it fails)' });
  if (job.files.length > MAX_FILES_PER_JOB)
    c.report({
      ...where,
      reason: `${job.files.length} files: a job reads at most ${MAX_FILES_PER_JOB} input files under its path (cut them into shards with \`personalize-batch shard\`)`,
    });
  if (bytes > c.limits.maxBytesPerJob)
    c.report({
      ...where,
      reason: `${bytes} bytes exceed the ${c.limits.maxBytesPerJob}-byte input quota of one job (split with \`personalize-batch shard\`)`,
    });
}

/** One file checked, its records counted toward the per-file quota and its event sent. */
async function checkNext(
  c: Checker,
  file: string,
  opened: Promise<OpenedText>,
  perFile: Map<string, { records: number; bytes: number }>,
  many: boolean,
): Promise<void> {
  const { s, family } = c;
  const problems = s.problems;
  const counted = await checkFile(c, file, opened);
  // A file that is not batch input was one problem; it has no records to count or quota to hold.
  if (counted.read) {
    perFile.set(file, counted);
    s.records += counted.records;
    if (counted.records === 0 && many) s.warnings.push(`${file} holds no records`);
    if (counted.records > family.maxRecordsPerFile)
      c.report({
        file,
        field: '(file)',
        reason: `${counted.records} ${family.segment ? 'queries' : 'records'} exceed the ${family.family} quota of ${family.maxRecordsPerFile} per input file (split it with \`personalize-batch shard\`)`,
      });
  }
  const { records, bytes } = counted;
  c.options.onEvent?.({ type: 'file', file, records, bytes, problems: s.problems - problems });
}

/** One file: every record checked; a file that is not batch input is one problem. Its records and bytes. */
async function checkFile(
  c: Checker,
  file: string,
  opened: Promise<OpenedText>,
): Promise<{ records: number; bytes: number; read: boolean }> {
  const counted = { records: 0, bytes: 0, read: false };
  let src: RowSource | undefined;
  try {
    src = await openChecked(c, file, opened, counted);
    if (!src) return counted;
    counted.read = true;
    for await (const batch of src.batches) {
      for (const row of batch) {
        counted.records++;
        checkRow(c, file, row);
      }
      c.tick(counted.records);
    }
  } catch (err) {
    // A line too long to read is a problem with the file; keep checking the others.
    if (!(err instanceof PbError) || err.code !== 'PB_PARSE') throw err;
    c.report({ file, line: err.line, field: '(line)', reason: err.reason });
  }
  if (src) c.s.blankLines += src.blankLines();
  return counted;
}

function checkRow(c: Checker, file: string, row: Row): void {
  if (row.error) {
    c.s.invalidRecords++;
    c.report({ file, line: row.line, field: '(line)', reason: row.error.reason });
    return;
  }
  if (c.family.family === 'popular-items' && legacyPopularityLine(row.values) !== null) {
    c.legacy++;
    return;
  }
  const problem = checkRecord(row.values, c.family, c.limits, c.policy);
  if (problem) {
    c.s.invalidRecords++;
    c.report({ file, line: row.line, ...problem });
  }
}

/**
 * The file opened as JSON Lines, or undefined (after one problem) when it is something else: a
 * workbook, UTF-16, a CSV, pretty-printed JSON, a manifest or an .out file. Bytes read are counted.
 */
async function openChecked(
  c: Checker,
  file: string,
  opened: Promise<OpenedText>,
  counted: { bytes: number },
): Promise<RowSource | undefined> {
  const { family, report } = c;
  let text: OpenedText;
  try {
    text = await opened;
  } catch (err) {
    if (!(err instanceof PbError) || err.code !== 'PB_PARSE') throw err;
    // A workbook, a binary file: one problem for the file (the reason says what to do), and on to the next.
    report({ file, line: err.line, field: '(file)', reason: err.reason });
    return undefined;
  }
  if (text.info.encoding !== 'utf-8') {
    const what = `${text.info.encoding.toUpperCase()} text (it starts with that byte order mark)`;
    report({ file, line: 1, field: '(file)', reason: notBatchInput(what, family.family) });
    await text.close();
    return undefined;
  }
  // The first three bytes may arrive in separate chunks (stdin, gzip).
  let head = Buffer.alloc(0);
  const bytes = (async function* () {
    for await (const chunk of text.bytes) {
      if (head.length < 3) {
        head = Buffer.concat([head, chunk.subarray(0, 3 - head.length)]);
        if (head.length === 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf)
          report({
            file,
            line: 1,
            field: '(file)',
            reason: 'starts with a byte order mark; write UTF-8 without BOM',
          });
      }
      c.s.bytes += chunk.length;
      counted.bytes += chunk.length;
      yield chunk;
    }
  })();
  let src: RowSource;
  try {
    src = await readRows(file, bytes, {
      format: 'auto',
      maxLineLength: c.options.maxLineLength,
      names: VALIDATE_NAMES,
    });
  } catch (err) {
    if (!(err instanceof PbError) || err.code !== 'PB_USAGE') throw err;
    report({ file, field: '(file)', reason: notBatchInput('text that is not JSON', family.family) });
    await text.close();
    return undefined;
  }
  if (src.format !== 'jsonl' && !src.empty) {
    await src.close();
    report({ file, line: 1, field: '(file)', reason: notBatchInput(describeFormat(src), family.family) });
    return undefined;
  }
  // Read by content: a manifest or an .out file in a folder, or on stdin, is not batch input.
  const wrong =
    src.keyed && src.header ? wrongKind(docKindOfKeys(src.header), 'batch-input', file) : undefined;
  if (wrong) {
    await src.close();
    report({ file, line: 1, field: '(file)', reason: wrong.reason });
    return undefined;
  }
  return src;
}

/**
 * Files opened ahead of the one being checked: S3 objects' round trips overlap (1,005 one-line
 * objects on the emulator: 9.7 s one after another). Each holds at most its first 64 KiB.
 */
const READ_AHEAD = 8;

/** Input files one job reads at most (a service quota, not adjustable). */
const MAX_FILES_PER_JOB = 1000;

/** validate reads what prepare wrote; a fix for the source is prepare's option. */
const VALIDATE_NAMES: OptionNames = {
  ...CLI_OPTION_NAMES,
  delimiter: 'prepare --delimiter',
  encoding: 'prepare --encoding',
  column: 'prepare --column',
  format: 'prepare --format',
  allowEmailIds: '--allow-email-ids',
  skipLines: 'prepare --skip-lines',
  noHeader: 'prepare --no-header',
};

/** Batch input must be UTF-8 JSON Lines: what a file is instead, and the command that makes it so. */
function notBatchInput(what: string, family: string): string {
  return `${what}, not JSON Lines: batch input is one JSON object per line in UTF-8; run \`personalize-batch prepare --recipe ${family} FILE -o FILE.jsonl\` to rewrite it as JSON Lines`;
}

function describeFormat(src: RowSource): string {
  switch (src.detection.jsonLayout) {
    case 'array':
      return 'a JSON array';
    case 'packed':
      return 'several JSON objects on one line';
    case 'spread':
      return 'JSON objects spread over several lines';
    default:
      return src.format === 'plain'
        ? 'plain text (one value per line)'
        : `a ${src.format.toUpperCase()} file`;
  }
}

/** The progress event, at most every 250 ms (the last counts are told at the end). */
function ticker(o: ResolvedValidateOptions, s: ValidateSummary): (recordsInFile: number) => void {
  const { onEvent } = o;
  if (!onEvent) return () => {};
  let last = Date.now();
  return (recordsInFile) => {
    const now = Date.now();
    if (now - last < 250) return;
    last = now;
    onEvent({
      type: 'progress',
      records: s.records + recordsInFile,
      bytesRead: s.bytes,
      problems: s.problems,
    });
  };
}
