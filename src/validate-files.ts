import type { Readable } from 'node:stream';
import { resolveFamily } from './core/families.js';
import { checkRecord, DEFAULT_LIMITS, type Limits } from './core/validate.js';
import { formatPosition, PbError, usage } from './errors.js';
import { openSource } from './io/input.js';
import { readRows } from './io/rows.js';
import { expandSources } from './io/s3.js';

export interface ValidateOptions {
  recipe: string;
  /** Batch-input files (plain or gzip), or `-` for stdin. */
  files: string[];
  /** How many problems to report through onProblem; all are counted. Default 100. */
  maxReported?: number;
  maxItemList?: number;
  /** Bytes of all the files together that one job may take. Default 1 GB. */
  maxBytesPerJob?: number;
  maxLineLength?: number;
  stdin?: Readable;
  /** Receives each reported problem as `file:line: field: reason`. */
  onProblem?: (message: string, problem: ValidationProblem) => void;
}

export interface ValidationProblem {
  file: string;
  line?: number;
  field: string;
  reason: string;
}

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
}

/**
 * Checks batch-input JSON Lines against the family's schema and the service
 * quotas: per line (ids, itemList, item attribute queries, filterValues) and
 * per file (records per file, segment queries per file) and for the job (bytes).
 */
export async function validateFiles(options: ValidateOptions): Promise<ValidateSummary> {
  const family = resolveFamily(options.recipe);
  if (options.files.length === 0) throw usage('validate needs at least one FILE (or - for stdin)');
  const limits: Limits = {
    ...DEFAULT_LIMITS,
    maxItemList: options.maxItemList ?? DEFAULT_LIMITS.maxItemList,
    maxBytesPerJob: options.maxBytesPerJob ?? DEFAULT_LIMITS.maxBytesPerJob,
  };
  const maxReported = options.maxReported ?? 100;
  const started = process.hrtime.bigint();
  const s: ValidateSummary = {
    family: family.family,
    files: options.files.length,
    records: 0,
    invalidRecords: 0,
    problems: 0,
    reported: 0,
    blankLines: 0,
    bytes: 0,
    seconds: 0,
  };
  const report = (p: ValidationProblem) => {
    s.problems++;
    if (s.reported < maxReported) {
      s.reported++;
      options.onProblem?.(`${formatPosition({ file: p.file, line: p.line })}${p.field}: ${p.reason}`, p);
    }
  };
  const files = await expandSources(options.files);
  s.files = files.length;
  for (const file of files) {
    // The first three bytes may arrive in separate chunks (stdin, gzip).
    let head = Buffer.alloc(0);
    const bytes = (async function* () {
      for await (const chunk of openSource(file, { stdin: options.stdin })) {
        if (head.length < 3) {
          head = Buffer.concat([head, chunk.subarray(0, 3 - head.length)]);
          if (head.length === 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
            report({
              file,
              line: 1,
              field: '(file)',
              reason: 'starts with a byte order mark; write UTF-8 without BOM',
            });
          }
        }
        s.bytes += chunk.length;
        yield chunk;
      }
    })();
    let records = 0;
    let blank = () => 0;
    try {
      const src = await readRows(file, bytes, {
        format: 'jsonl',
        maxLineLength: options.maxLineLength ?? 1024 * 1024,
        headerNames: [],
      });
      blank = src.blankLines;
      for await (const batch of src.batches) {
        for (const row of batch) {
          records++;
          if (row.error) {
            s.invalidRecords++;
            report({ file, line: row.line, field: '(line)', reason: row.error.reason });
            continue;
          }
          const problem = checkRecord(row.values, family, limits);
          if (problem) {
            s.invalidRecords++;
            report({ file, line: row.line, ...problem });
          }
        }
      }
    } catch (err) {
      // A line too long to read is a problem with the file; keep checking the others.
      if (!(err instanceof PbError) || err.code !== 'PB_PARSE') throw err;
      report({ file, line: err.line, field: '(line)', reason: err.reason });
    }
    s.records += records;
    s.blankLines += blank();
    if (records > family.maxRecordsPerFile) {
      const what = family.segment ? 'queries' : 'records';
      report({
        file,
        field: '(file)',
        reason: `${records} ${what} exceed the ${family.family} quota of ${family.maxRecordsPerFile} per input file (split it with \`personalize-batch shard\`)`,
      });
    }
  }
  if (s.bytes > limits.maxBytesPerJob) {
    report({
      file: files.length === 1 ? (files[0] as string) : '(all files)',
      field: '(job)',
      reason: `${s.bytes} bytes exceed the ${limits.maxBytesPerJob}-byte input quota of one job (split with \`personalize-batch shard\`)`,
    });
  }
  s.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return s;
}
