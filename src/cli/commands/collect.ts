import { count, noun, parseBytes } from '../../core/units.js';
import { type CollectEvent, type CollectSummary, collect } from '../../stages/collect/index.js';
import { AWS_OPTIONS, awsConnections, type CliIO, megabytes, parse, progressLine, write } from '../common.js';

export const COLLECT_HELP = `Usage: personalize-batch collect (--state URI | SOURCE...) [--input MANIFEST_OR_INPUT]... -o OUT

Merges the outputs of a batch run (every shard, reruns included) into one JSON Lines file
and reconciles them with the batch input.
SOURCE: .out files, folders and s3://bucket/prefix/ (their *.out files), or -.
--state URI: the run's state file (local or s3://); its shards' output prefixes are the
sources and their inputs the input.

- A key (userId, itemId or itemAttributes) with several successful lines, say in two shards
  or in a run and its rerun, keeps the first; the others are dropped, counted and warned about.
- Lines whose error is not null are not merged; the first error line of each key that has no
  successful line goes to errors.jsonl. An error line with no userId, itemId or itemAttributes
  string (a number id, an input without the key) always does: it cannot be joined on a key.
- With an input (manifest.json files as \`shard\` writes them, local or s3://, or batch-input
  JSON Lines), every input record with no output line at all goes to missing.jsonl byte for
  byte, ready to resubmit.
Memory stays bounded for any number of keys: keys go to hash partitions on disk and are
reconciled one partition at a time (--memory-budget); every source is read twice.
Exit status 1 when records are missing or failed (the files are still written).

Options:
  -o, --output FILE          merged JSON Lines (default -, stdout); atomic; .gz compresses; s3:// uploads
      --state URI            the run's state file
      --input FILE           manifest.json or batch input to reconcile against (repeatable)
      --missing FILE         default: missing.jsonl beside the output
      --errors FILE          default: errors.jsonl beside the output
      --on-invalid fail|skip fail (default) stops at a malformed line; skip writes it to --rejects
      --rejects FILE         malformed lines with file, line, reason and text
      --memory-budget SIZE   memory for one partition of keys (default 64MiB)
      --tmp-dir DIR          where partitions (about 10 bytes a line plus the key) and spooled stdin go
      --max-line-length SIZE longest line (default 128MiB)
      --region R, --endpoint-url URL, --profile P
      --json                 print a machine-readable summary
  -h, --help

Examples:
  personalize-batch collect --state s3://work/run-1/state.json -o s3://work/run-1/merged.jsonl.gz
  personalize-batch collect s3://work/out/ --input s3://work/shards/manifest.json -o merged.jsonl
  personalize-batch collect out/shard-00000/ out/shard-00001/ rerun/ --input batch.jsonl -o all.jsonl`;

export async function runCollect(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('collect', args, {
    output: { type: 'string', short: 'o' },
    state: { type: 'string' },
    input: { type: 'string', multiple: true },
    missing: { type: 'string' },
    errors: { type: 'string' },
    'on-invalid': { type: 'string' },
    rejects: { type: 'string' },
    'memory-budget': { type: 'string' },
    'tmp-dir': { type: 'string' },
    'max-line-length': { type: 'string' },
    ...AWS_OPTIONS,
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) {
    write(io.stdout, `${COLLECT_HELP}\n`);
    return 0;
  }
  const progress = progressLine(io.stderr);
  const s = await collect({
    sources: positionals.length > 0 ? positionals : undefined,
    state: v.state,
    inputs: v.input,
    output: v.output,
    missing: v.missing,
    errors: v.errors,
    onInvalid: v['on-invalid'] as 'fail' | 'skip' | undefined,
    rejects: v.rejects,
    memoryBudget:
      v['memory-budget'] === undefined ? undefined : parseBytes(v['memory-budget'], '--memory-budget'),
    tmpDir: v['tmp-dir'],
    maxLineLength:
      v['max-line-length'] === undefined ? undefined : parseBytes(v['max-line-length'], '--max-line-length'),
    stdin: io.stdin,
    stdout: io.stdout,
    s3: awsConnections(v, io).s3,
    signal: io.signal,
    onEvent:
      progress &&
      ((e) => {
        const text = collectProgress(e);
        if (text !== undefined) progress.show(text);
      }),
  }).finally(() => progress?.clear());
  for (const w of s.warnings) write(io.stderr, `personalize-batch: warning: ${w}\n`);
  const toStdout = (v.output ?? '-') === '-';
  if (v.json) write(toStdout ? io.stderr : io.stdout, `${JSON.stringify(s)}\n`);
  else write(io.stderr, `${describeCollect(s)}\n`);
  return s.missing > 0 || s.failedKeys > 0 ? 1 : 0;
}

export function describeCollect(s: CollectSummary): string {
  const parts = [
    `${s.outputLines} output ${noun(s.outputLines, 'line')} from ${count(s.sources, 'file')}`,
    `${s.written} written to ${s.output === '-' ? 'stdout' : s.output}`,
    `${count(s.duplicates, 'duplicate')} dropped`,
    `${s.failedKeys} failed (${s.errorsFile})`,
  ];
  if (s.recovered > 0)
    parts.push(`${s.recovered} error ${noun(s.recovered, 'line')} recovered by another line`);
  if (s.invalid > 0) parts.push(`${s.invalid} invalid ${noun(s.invalid, 'line')} skipped`);
  const input =
    s.missingFile === null
      ? 'no input to reconcile'
      : `input: ${count(s.inputRecords, 'record')} in ${count(s.inputFiles, 'file')}, ${s.missing} missing (${s.missingFile})`;
  return `collect: ${parts.join(', ')}; ${input} in ${s.seconds.toFixed(1)} s`;
}

/** The progress line's text for a progress event (undefined for the others: the line stays). */
function collectProgress(e: CollectEvent): string | undefined {
  if (e.type !== 'progress') return undefined;
  if (e.step === 'decide')
    return `collect (decide): ${e.linesDecided.toLocaleString('en-US')} of ${e.linesKeyed.toLocaleString('en-US')} lines`;
  return `collect (${e.step}): ${e.lines.toLocaleString('en-US')} lines, ${megabytes(e.bytesRead)} read`;
}
