import { count, parseBytes, parseCount } from '../../core/units.js';
import { PbError } from '../../errors.js';
import {
  AWS_OPTIONS,
  awsConnections,
  type CliIO,
  megabytes,
  outputOption,
  parse,
  progressLine,
  write,
} from '../common.js';

/** The options `shard` and `prepare --shard-out` share. */
export const SHARD_OPTIONS = {
  'max-bytes': { type: 'string' },
  'max-records': { type: 'string' },
  'max-records-per-file': { type: 'string' },
  'max-files-per-shard': { type: 'string' },
  shards: { type: 'string' },
  force: { type: 'boolean', default: false },
} as const;

/** The SHARD_OPTIONS limits parsed, for shard and for prepare --shard-out. */
export function shardLimits(v: {
  'max-bytes'?: string;
  'max-records'?: string;
  'max-records-per-file'?: string;
  'max-files-per-shard'?: string;
  shards?: string;
}) {
  const count = (x: string | undefined, name: string) => (x === undefined ? undefined : parseCount(x, name));
  return {
    maxBytes: v['max-bytes'] === undefined ? undefined : parseBytes(v['max-bytes'], '--max-bytes'),
    maxRecords: count(v['max-records'], '--max-records'),
    maxRecordsPerFile: count(v['max-records-per-file'], '--max-records-per-file'),
    maxFilesPerShard: count(v['max-files-per-shard'], '--max-files-per-shard'),
    shards: count(v.shards, '--shards'),
  };
}
const SHARD_HELP = `Usage: personalize-batch shard --recipe FAMILY INPUT -o DIR [options]

Splits batch-input JSON Lines (a path or -, gzip detected) into shards that each fit one
batch job, each in its own folder (DIR/shard-00000/input.jsonl, ...), and writes
DIR/manifest.json (records, bytes, SHA-256 and files per shard; schema in
schemas/manifest.schema.json). When a file takes fewer records than a job (item-affinity 500
queries per file, item-attribute-affinity 10, themes 100), a shard is several files
(DIR/shard-00000/input-00000.jsonl, input-00001.jsonl, ...) read by one job.
Lines are never split and each lands in exactly one shard. DIR is written under a temporary
name and renamed at the end.

Options:
      --recipe FAMILY        as for prepare; recorded in the manifest
  -o, --output DIR           the folder to create (must not exist or be empty, unless --force);
                             --out, its old name, still works
      --max-bytes SIZE       bytes per shard, all its files (default 1GB, the job input quota)
      --max-records N        records per shard, all its files (default 50M)
      --max-records-per-file N
                             records per input file (default the family's quota: 50M; 500
                             item-affinity, 10 item-attribute-affinity; use 100 for themes)
      --max-files-per-shard N
                             files per shard when shards are several files (default 1000, the
                             job quota)
      --shards N             exactly N shards by a stable hash of the key (userId, itemId or
                             itemAttributes), so a user lands in the same shard on every run
      --force                replace what DIR holds
      --json                 print a machine-readable summary
  -h, --help

Examples:
  personalize-batch shard --recipe user-personalization batch.jsonl -o shards/
  personalize-batch shard --recipe user-personalization batch.jsonl.gz -o shards/ --max-bytes 500MB
  personalize-batch shard --recipe aws-sims items.jsonl -o shards/ --shards 8
  personalize-batch shard --recipe aws-item-affinity items.jsonl -o s3://bucket/segments/in/`;

export async function runShard(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('shard', args, {
    recipe: { type: 'string' },
    output: { type: 'string', short: 'o' },
    out: { type: 'string' },
    ...SHARD_OPTIONS,
    ...AWS_OPTIONS,
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (v.help) {
    write(io.stdout, `${SHARD_HELP}\n`);
    return 0;
  }
  if (!v.recipe) throw new PbError('PB_USAGE', 'shard needs --recipe FAMILY (see shard --help)');
  const out = outputOption(v);
  if (!out) throw new PbError('PB_USAGE', 'shard needs -o DIR (see shard --help)');
  if (positionals.length !== 1) throw new PbError('PB_USAGE', 'shard takes one INPUT (a path or -)');
  const { shard } = await import('../../stages/shard/index.js');
  const progress = progressLine(io.stderr);
  const summary = await shard({
    recipe: v.recipe,
    input: positionals[0] as string,
    out,
    ...shardLimits(v),
    force: v.force,
    stdin: io.stdin,
    s3: awsConnections(v, io).s3,
    signal: io.signal,
    onEvent: progress
      ? (e) => {
          if (e.type === 'progress')
            progress.show(`shard: ${e.records.toLocaleString('en-US')} records, ${megabytes(e.bytes)}`);
        }
      : undefined,
  }).finally(() => progress?.clear());
  if (v.json) write(io.stdout, `${JSON.stringify(summary)}\n`);
  else {
    write(
      io.stderr,
      `shard: ${count(summary.records, 'record')}, ${count(summary.bytes, 'byte')} in ${count(summary.shards, 'shard')}; manifest ${summary.manifest} (${summary.seconds.toFixed(1)} s)\n`,
    );
  }
  if (summary.records === 0)
    write(
      io.stderr,
      'personalize-batch: warning: no records: no shard was written, and submit refuses this manifest (a batch job needs at least one record)\n',
    );
  return 0;
}
