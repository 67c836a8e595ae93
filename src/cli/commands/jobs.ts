/** `submit`, `status` and `wait`: the CLI over src/stages/jobs. */
import type { Writable } from 'node:stream';
import { parseTimestamp } from '../../core/dates.js';
import { count, parseCount, parseDuration } from '../../core/units.js';
import { PbError } from '../../errors.js';
import {
  type JobEvent,
  type JobRow,
  type JobsSummary,
  jobStatus,
  submit,
  waitJobs,
} from '../../stages/jobs/index.js';
import { regionOfArn } from '../../stages/jobs/model.js';
import { AWS_OPTIONS, awsConnections, type CliIO, parse, progressLine, write } from '../common.js';

const CONNECTION_HELP = `      --region R             the jobs' region (default: from the solution version ARN, then the SDK chain)
      --profile P            a profile from the shared AWS config
      --endpoint-url URL     an S3-compatible endpoint for s3:// paths (AWS_ENDPOINT_URL_S3 also works)
      --personalize-endpoint-url URL
                             a Personalize-compatible endpoint such as \`personalize-batch emulate\`
                             (AWS_ENDPOINT_URL_PERSONALIZE also works)
      --poll-interval T      between status checks, jittered ±20% (default 60s)`;

export const SUBMIT_HELP = `Usage: personalize-batch submit --manifest URI --solution-version-arn ARN --role-arn ARN
                                --output s3://bucket/prefix/ [options]

Creates one batch job per shard of a manifest (from \`shard\` or \`prepare --shard-out\`, on S3),
each writing to its own folder <output>shard-NNNNN/. At most --max-running jobs are pending or
running in the region at once, the account's other jobs included; the next shard goes when a
slot frees, and LimitExceeded means "later", never a failure. Batch segment families use
CreateBatchSegmentJob. Job names are <prefix>-<run id>-<shard>, the run id a digest of the
shards, the solution version and the output, so a run is recognised after a crash.

The state file records each shard's job ARN the moment it is known (and the job's name just
before the Create call). Running the same submit again resumes: jobs are found by state, then
by name, and a shard never gets a second job. Batch jobs cannot be stopped or deleted.

Options:
      --manifest URI         manifest.json of the shards (local or s3://); shards must be on S3
      --solution-version-arn ARN
      --role-arn ARN         the role Personalize assumes to read input and write output
  -o, --output PREFIX        s3://bucket/prefix/ for the outputs
      --state URI            the state file (default <output>state.json), local or s3://
      --wait                 follow the jobs until every one is ACTIVE or CREATE FAILED
      --retry-failed N       resubmit a failed shard under a new name, up to N times (default 0)
      --max-running N        jobs pending or running at once in the region (default 5, the quota)
      --job-name-prefix P    default pb
      --num-results N        recommendations per line, or users per segment
      --filter-arn ARN
      --exploration-weight W         0 to 1 (User-Personalization)
      --exploration-item-age-cutoff DAYS
      --ranking-influence K=W        POPULARITY or FRESHNESS, 0 to 1 (repeatable)
      --theme-item-name COLUMN       THEME_GENERATION mode, item names from this Items column
      --input-kms-key-arn ARN, --output-kms-key-arn ARN
      --tag KEY=VALUE        job tags (repeatable)
${CONNECTION_HELP}
      --json                 print a machine-readable summary
  -h, --help

Exit codes: 0 every shard has a job (with --wait: every job ACTIVE), 1 a job failed for good
or the service refused a request, 2 usage.

Examples:
  personalize-batch submit --manifest s3://work/shards/manifest.json --output s3://work/out/ \\
      --solution-version-arn arn:aws:personalize:us-east-1:123456789012:solution/emails/abc123 \\
      --role-arn arn:aws:iam::123456789012:role/PersonalizeBatch --num-results 25 --wait
  personalize-batch submit --manifest s3://work/shards/manifest.json --output s3://work/out/ \\
      --solution-version-arn ARN --role-arn ARN --retry-failed 1 --poll-interval 2m --wait`;

export const STATUS_HELP = `Usage: personalize-batch status --state URI [options]

Refreshes the state file from the service and prints one row per shard: job name, status,
records, age and failure reason.

Options:
      --state URI            the state file written by submit
${CONNECTION_HELP}
      --json                 print the rows as JSON
  -h, --help

Examples:
  personalize-batch status --state s3://work/out/state.json
  personalize-batch status --state s3://work/out/state.json --json | jq '.jobs[].status'`;

export const WAIT_HELP = `Usage: personalize-batch wait --state URI [options]

Blocks until every job of the state file is ACTIVE or CREATE FAILED, showing progress on a
terminal. Exit 0 when all are ACTIVE, 1 when any failed (resubmit with submit --retry-failed).

Options:
      --state URI            the state file written by submit
${CONNECTION_HELP}
      --json                 print a machine-readable summary
  -h, --help

Examples:
  personalize-batch wait --state s3://work/out/state.json
  personalize-batch wait --state s3://work/out/state.json --poll-interval 5m --json`;

const CONNECTION_OPTIONS = {
  ...AWS_OPTIONS,
  'personalize-endpoint-url': { type: 'string' },
  'poll-interval': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function pairs(list: readonly string[] | undefined, option: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const i = item.indexOf('=');
    if (i <= 0) throw new PbError('PB_USAGE', `${option} takes KEY=VALUE, got "${item}"`);
    out[item.slice(0, i)] = item.slice(i + 1);
  }
  return out;
}

export async function runSubmit(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('submit', args, {
    manifest: { type: 'string' },
    'solution-version-arn': { type: 'string' },
    'role-arn': { type: 'string' },
    output: { type: 'string', short: 'o' },
    state: { type: 'string' },
    wait: { type: 'boolean', default: false },
    'retry-failed': { type: 'string' },
    'max-running': { type: 'string' },
    'job-name-prefix': { type: 'string' },
    'num-results': { type: 'string' },
    'filter-arn': { type: 'string' },
    'exploration-weight': { type: 'string' },
    'exploration-item-age-cutoff': { type: 'string' },
    'ranking-influence': { type: 'string', multiple: true },
    'theme-item-name': { type: 'string' },
    'input-kms-key-arn': { type: 'string' },
    'output-kms-key-arn': { type: 'string' },
    tag: { type: 'string', multiple: true },
    ...CONNECTION_OPTIONS,
  });
  if (v.help) {
    write(io.stdout, `${SUBMIT_HELP}\n`);
    return 0;
  }
  if (positionals.length > 0)
    throw new PbError('PB_USAGE', `submit takes no positional arguments (got ${positionals[0]})`);
  for (const need of ['manifest', 'solution-version-arn', 'role-arn', 'output'] as const) {
    if (!v[need]) throw new PbError('PB_USAGE', `submit needs --${need} (see submit --help)`);
  }
  // Jobs go where the model is unless --region says otherwise.
  const { s3, personalize } = awsConnections(
    { ...v, region: v.region ?? regionOfArn(v['solution-version-arn']) },
    io,
  );
  const influence: Record<string, number> = {};
  for (const [k, w] of Object.entries(pairs(v['ranking-influence'], '--ranking-influence'))) {
    const n = Number(w);
    if (w.trim() === '' || !Number.isFinite(n))
      throw new PbError('PB_USAGE', `--ranking-influence ${k}: "${w}" is not a number`);
    influence[k.toUpperCase()] = n;
  }
  const reporter = new Reporter(io.stderr);
  const summary = await submit({
    manifest: v.manifest as string,
    solutionVersionArn: v['solution-version-arn'] as string,
    roleArn: v['role-arn'] as string,
    output: v.output as string,
    state: v.state,
    wait: v.wait,
    retryFailed:
      v['retry-failed'] === undefined ? undefined : wholeOrZero(v['retry-failed'], '--retry-failed'),
    maxRunning: v['max-running'] === undefined ? undefined : parseCount(v['max-running'], '--max-running'),
    jobNamePrefix: v['job-name-prefix'],
    numResults: v['num-results'] === undefined ? undefined : parseCount(v['num-results'], '--num-results'),
    filterArn: v['filter-arn'],
    explorationWeight: v['exploration-weight'],
    explorationItemAgeCutoff: v['exploration-item-age-cutoff'],
    rankingInfluence: influence,
    themeItemNameColumn: v['theme-item-name'],
    inputKmsKeyArn: v['input-kms-key-arn'],
    outputKmsKeyArn: v['output-kms-key-arn'],
    tags: pairs(v.tag, '--tag'),
    pollIntervalMs:
      v['poll-interval'] === undefined ? undefined : parseDuration(v['poll-interval'], '--poll-interval'),
    s3,
    personalize,
    signal: io.signal,
    onEvent: (e) => reporter.event(e),
  }).finally(() => reporter.clear());
  return finish(io, summary, v.json, v.wait);
}

export async function runStatus(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v } = parse('status', args, { state: { type: 'string' }, ...CONNECTION_OPTIONS });
  if (v.help) {
    write(io.stdout, `${STATUS_HELP}\n`);
    return 0;
  }
  if (!v.state) throw new PbError('PB_USAGE', 'status needs --state URI (see status --help)');
  const summary = await jobStatus({ state: v.state, ...awsConnections(v, io), signal: io.signal });
  if (v.json) write(io.stdout, `${JSON.stringify(summary)}\n`);
  else write(io.stdout, `${table(summary.jobs, Date.now())}\n${describeCounts(summary)}\n`);
  return summary.counts.failed > 0 ? 1 : 0;
}

export async function runWait(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v } = parse('wait', args, { state: { type: 'string' }, ...CONNECTION_OPTIONS });
  if (v.help) {
    write(io.stdout, `${WAIT_HELP}\n`);
    return 0;
  }
  if (!v.state) throw new PbError('PB_USAGE', 'wait needs --state URI (see wait --help)');
  const reporter = new Reporter(io.stderr);
  const summary = await waitJobs({
    state: v.state,
    ...awsConnections(v, io),
    signal: io.signal,
    pollIntervalMs:
      v['poll-interval'] === undefined ? undefined : parseDuration(v['poll-interval'], '--poll-interval'),
    onEvent: (e) => reporter.event(e),
  }).finally(() => reporter.clear());
  return finish(io, summary, v.json, true);
}

function wholeOrZero(text: string, option: string): number {
  if (text.trim() === '0') return 0;
  return parseCount(text, option);
}

function finish(io: CliIO, summary: JobsSummary, json: boolean, waited: boolean): number {
  if (json) write(io.stdout, `${JSON.stringify(summary)}\n`);
  else write(io.stderr, `${describeCounts(summary)}\n`);
  if (summary.counts.failed > 0) {
    if (!json) {
      for (const j of summary.jobs.filter((r) => r.status.toUpperCase().includes('FAILED')))
        write(
          io.stderr,
          `personalize-batch: shard ${j.shard}: job ${j.name} failed: ${j.failureReason ?? 'no reason given'}\n`,
        );
      write(
        io.stderr,
        'personalize-batch: run submit again with --retry-failed N to resubmit the failed shards\n',
      );
    }
    return 1;
  }
  return waited && summary.counts.active !== summary.jobs.length ? 1 : 0;
}

function describeCounts(s: JobsSummary): string {
  const c = s.counts;
  return `jobs (run ${s.runId}, state ${s.state}): ${count(s.jobs.length, 'shard')}: ${c.active} active, ${c.failed} failed, ${c.running} in progress, ${c.pending} pending, ${c.waiting} not submitted; ${s.created} created now, ${s.seconds.toFixed(0)} s`;
}

/** A fixed-width table: shard, job name, status, records, age, failure reason. */
export function table(rows: readonly JobRow[], now: number): string {
  const head = ['shard', 'job name', 'status', 'records', 'age', 'failure reason'];
  const body = rows.map((r) => [
    String(r.shard),
    r.name || '-',
    r.status,
    r.records.toLocaleString('en-US'),
    r.createdAt ? age(now - (parseTimestamp(r.createdAt) ?? now / 1000) * 1000) : '-',
    r.failureReason ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), ...body.map(line)].join('\n');
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/**
 * Job events as lines on stderr; the running counts as one redrawn line
 * (progressLine), only on a terminal. Throttling is transient and the run
 * goes on, so it is only mentioned on a terminal too.
 */
class Reporter {
  private readonly progress: ReturnType<typeof progressLine>;
  constructor(private readonly stderr: Writable) {
    this.progress = progressLine(stderr);
  }

  event(e: JobEvent): void {
    switch (e.type) {
      case 'state':
        this.line(`${e.resumed ? 'resuming from' : 'state file'} ${e.path}`);
        break;
      case 'created':
        this.line(`shard ${e.shard}: created ${e.name} (${e.arn})`);
        break;
      case 'found':
        this.line(`shard ${e.shard}: found existing job ${e.name} (${e.arn})`);
        break;
      case 'status':
        if (e.failureReason) this.line(`shard ${e.shard}: ${e.name} ${e.status}: ${e.failureReason}`);
        else if (/ACTIVE/.test(e.status)) this.line(`shard ${e.shard}: ${e.name} ${e.status}`);
        break;
      case 'retry':
        this.line(`shard ${e.shard}: resubmitting (attempt ${e.attempt + 1})`);
        break;
      case 'throttled':
        if (this.progress) this.line(`the service said not now (${e.reason}); trying again later`);
        break;
      case 'progress': {
        const c = e.counts;
        this.progress?.show(
          `jobs: ${c.running} running, ${c.pending} pending, ${c.active} active, ${c.failed} failed, ${c.waiting} waiting`,
        );
        break;
      }
    }
  }

  /** A whole line, the progress line cleared first so the two do not share a row. */
  private line(text: string): void {
    this.clear();
    write(this.stderr, `personalize-batch: ${text}\n`);
  }

  clear(): void {
    this.progress?.clear();
  }
}
