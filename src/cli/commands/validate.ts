import { count, parseBytes, parseCount } from '../../core/units.js';
import { PbError } from '../../errors.js';
import { AWS_OPTIONS, awsConnections, type CliIO, megabytes, parse, progressLine, write } from '../common.js';

const VALIDATE_HELP = `Usage: personalize-batch validate --recipe FAMILY [options] FILE...

Checks batch-input JSON Lines against schemas/ and the service limits: ids of 1 to 256
characters, itemList length, item-attribute queries, filterValues, records per file
(50 million; 500 Item-Affinity and 10 Item-Attribute-Affinity queries) and 1 GB per job.
Prints each problem as file:line: field: reason (the first --max-reported), counts them all.

Options:
      --recipe FAMILY        as for prepare
      --max-reported N       problems printed (default 100)
      --max-item-list N      longest itemList (default 500)
      --max-bytes SIZE       bytes one job may take (default 1GB)
      --allow-email-ids      ids that look like e-mail addresses are not problems
      --region R, --endpoint-url URL, --profile P
                             for s3:// files (s3://bucket/prefix/ checks every object under it)
      --json                 print a machine-readable summary
  -h, --help

Examples:
  personalize-batch validate --recipe user-personalization batch.jsonl
  personalize-batch validate --recipe item-affinity --json shard-*.jsonl
  personalize-batch validate --recipe user-personalization s3://my-bucket/batch/input/`;

/**
 * The whole CLI as a function: parses argv, runs a command, returns the exit
 * code. Only bin.ts touches process.exit.
 */
export async function runValidate(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('validate', args, {
    recipe: { type: 'string' },
    'max-reported': { type: 'string' },
    'max-item-list': { type: 'string' },
    'max-bytes': { type: 'string' },
    'allow-email-ids': { type: 'boolean', default: false },
    ...AWS_OPTIONS,
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) {
    write(io.stdout, `${VALIDATE_HELP}\n`);
    return 0;
  }
  if (!v.recipe) throw new PbError('PB_USAGE', 'validate needs --recipe FAMILY (see validate --help)');
  const { validateFiles } = await import('../../stages/validate/index.js');
  const progress = progressLine(io.stderr);
  const summary = await validateFiles({
    recipe: v.recipe,
    files: positionals,
    maxReported:
      v['max-reported'] === undefined ? undefined : parseCount(v['max-reported'], '--max-reported'),
    maxItemList:
      v['max-item-list'] === undefined ? undefined : parseCount(v['max-item-list'], '--max-item-list'),
    maxBytesPerJob: v['max-bytes'] === undefined ? undefined : parseBytes(v['max-bytes'], '--max-bytes'),
    allowEmailIds: v['allow-email-ids'],
    stdin: io.stdin,
    s3: awsConnections(v, io).s3,
    signal: io.signal,
    onProblem: (msg) => {
      // The problem on a line of its own, not after the progress line's text.
      progress?.clear();
      write(io.stderr, `${msg}\n`);
    },
    onEvent: progress
      ? (e) => {
          if (e.type === 'progress')
            progress.show(
              `validate: ${e.records.toLocaleString('en-US')} records, ${e.problems} problems, ${megabytes(e.bytesRead)} read`,
            );
        }
      : undefined,
  }).finally(() => progress?.clear());
  for (const w of summary.warnings) write(io.stderr, `personalize-batch: warning: ${w}\n`);
  if (v.json) write(io.stdout, `${JSON.stringify(summary)}\n`);
  else {
    const more =
      summary.problems > summary.reported ? ` (${summary.problems - summary.reported} not shown)` : '';
    write(
      io.stderr,
      `validate (${summary.family}): ${count(summary.records, 'record')} in ${count(summary.files, 'file')}, ${summary.invalidRecords} invalid, ${count(summary.problems, 'problem')}${more}\n`,
    );
  }
  return summary.problems > 0 ? 1 : 0;
}
