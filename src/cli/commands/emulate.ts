import type { Writable } from 'node:stream';
import { count, noun, parseCount, parseDuration } from '../../core/units.js';
import {
  EMULATOR_ACCOUNT,
  EMULATOR_DEFAULTS,
  type EmulatedJob,
  type EmulatorOptions,
  startEmulator,
} from '../../emulator/index.js';
import { PbError, usage } from '../../errors.js';
import { type CliIO, parseChecked } from '../common.js';

/** The CLI's ports; LocalStack's 4566 is left alone. */
export const EMULATE_PORTS = { personalize: 4570, s3: 4571 } as const;

const HELP = `Usage: personalize-batch emulate [options]

Starts a local stand-in for Amazon Personalize batch jobs on 127.0.0.1, for dry runs and
tests: an S3-compatible endpoint (s3rver) and a Personalize endpoint that speaks the real
wire protocol (Create/Describe/List for batch inference and batch segment jobs). It prints
the environment that points the AWS SDKs and the AWS CLI at it, logs job status changes on
stderr, and runs until Ctrl-C (SIGINT), SIGTERM or SIGHUP (its terminal closed).

Jobs read their input prefix from its S3, go CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE
(or CREATE FAILED with a reason: no input, a line that is not JSON, a quota), one --step at a
time, and write <input name>.out files and _CHECK like the service, lines shuffled, bad
records as error lines. The recommendations are deterministic picks from a catalog: this is
not a recommender. At most --max-running jobs per job type may be pending or in progress
(LimitExceededException past that); a reused job name gives ResourceAlreadyExistsException.

The recipe family comes from a word in the solution version ARN (popularity; sims, similar
or related; ranking; item-affinity; attribute-affinity; user-personalization or hrnn), else
from the input lines (itemList: ranking; userId: user-personalization; itemId: related items,
or Item-Affinity for segment jobs; itemAttributes: Item-Attribute-Affinity).

Options:
      --port N               Personalize endpoint port (default ${EMULATE_PORTS.personalize}; 0 picks a free one)
      --s3-port N            S3 endpoint port (default ${EMULATE_PORTS.s3}; 0 picks a free one)
      --data DIR             keep the S3 objects in DIR (default a temporary folder, removed on exit)
      --bucket NAME          create this bucket (repeatable; default personalize-batch-demo)
      --catalog FILE         recommend from this Items file (CSV or TSV with an ITEM_ID column)
      --items N              size of the generated catalog otherwise (default 1000: item-00001, ...)
      --users N              generated users segment jobs pick from (default 10000: user-000001, ...)
      --step DURATION        time per status step (default 2s; 500ms, 1m; a bare number is seconds)
      --max-running N        pending plus in-progress jobs per job type (default 5, the service quota)
      --region R             region in the ARNs and the printed environment (default us-east-1)
      --status-spelling S    observed (CREATE PENDING, CREATE IN_PROGRESS; default) or model
                             (PENDING, IN PROGRESS): clients must accept both
      --segment-layout L     observed (output.usersList; default) or documented (output.recommendedUsers)
      --fail-jobs REGEX      jobs whose name matches end CREATE FAILED (fault injection)
      --slow-jobs REGEX      jobs whose name matches stay in progress --slow longer (default 1m)
      --slow DURATION
      --throttle N           refuse the first N requests with ThrottlingException
      --quiet                do not log status changes
      --json                 print the endpoints and environment as one JSON object, not export lines
  -h, --help

Examples:
  personalize-batch emulate
  personalize-batch emulate --step 200ms --port 0 --s3-port 0 --json
  personalize-batch emulate --catalog items.csv --data ./emulator-s3 --bucket inputs --bucket outputs
  personalize-batch emulate --fail-jobs 'shard-00003' --slow-jobs 'shard-0000[12]' --slow 30s`;

/**
 * Runs the emulator until `signal` aborts, or without one until SIGINT,
 * SIGTERM or SIGHUP; then closes it and returns 0.
 */
export async function runEmulate(args: readonly string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  let parsed: ReturnType<typeof parseEmulateArgs>;
  try {
    parsed = parseEmulateArgs(args);
  } catch (err) {
    throw usage((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    io.stdout.write(`${HELP}\n`);
    return 0;
  }
  if (parsed.positionals.length > 0)
    throw usage(`emulate takes no arguments, got "${parsed.positionals[0]}"`);
  const options: EmulatorOptions = {
    port: v.port === undefined ? EMULATE_PORTS.personalize : port(v.port, '--port'),
    s3Port: v['s3-port'] === undefined ? EMULATE_PORTS.s3 : port(v['s3-port'], '--s3-port'),
    dataDir: v.data,
    buckets: v.bucket,
    catalog: v.catalog,
    items: v.items === undefined ? undefined : parseCount(v.items, '--items'),
    users: v.users === undefined ? undefined : parseCount(v.users, '--users'),
    stepMs: v.step === undefined ? undefined : parseDuration(v.step, '--step', { allowZero: true }),
    maxRunning: v['max-running'] === undefined ? undefined : parseCount(v['max-running'], '--max-running'),
    region: v.region,
    statusSpelling: oneOf(v['status-spelling'], '--status-spelling', ['observed', 'model'] as const),
    segmentLayout: oneOf(v['segment-layout'], '--segment-layout', ['observed', 'documented'] as const),
    faults: {
      failJobs: v['fail-jobs'] === undefined ? undefined : regex(v['fail-jobs'], '--fail-jobs'),
      slowJobs: v['slow-jobs'] === undefined ? undefined : regex(v['slow-jobs'], '--slow-jobs'),
      slowMs: v.slow === undefined ? 60_000 : parseDuration(v.slow, '--slow', { allowZero: true }),
      throttle: v.throttle === undefined ? 0 : parseCount(v.throttle, '--throttle'),
    },
  };
  const stop = stopSignal(signal);
  try {
    const emu = await startEmulator(options);
    if (!v.quiet) emu.on('status', (job) => logStatus(io.stderr, job));
    if (v.json) {
      const summary = {
        personalizeEndpoint: emu.personalizeEndpoint,
        s3Endpoint: emu.s3Endpoint,
        region: emu.region,
        buckets: options.buckets ?? EMULATOR_DEFAULTS.buckets,
        catalog: emu.catalog.source,
        dataDir: emu.dataDir,
        env: emu.env,
      };
      io.stdout.write(`${JSON.stringify(summary)}\n`);
    } else
      io.stdout.write(
        banner(emu, options.buckets ?? EMULATOR_DEFAULTS.buckets, options.stepMs ?? EMULATOR_DEFAULTS.stepMs),
      );
    if (!stop.signal.aborted)
      await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
    if (!v.quiet) io.stderr.write('emulate: stopping\n');
    await emu.close();
    return 0;
  } finally {
    stop.dispose();
  }
}

function parseEmulateArgs(args: readonly string[]) {
  return parseChecked('emulate', {
    args: [...args],
    allowPositionals: true,
    strict: true,
    options: {
      port: { type: 'string' },
      's3-port': { type: 'string' },
      data: { type: 'string' },
      bucket: { type: 'string', multiple: true },
      catalog: { type: 'string' },
      items: { type: 'string' },
      users: { type: 'string' },
      step: { type: 'string' },
      'max-running': { type: 'string' },
      region: { type: 'string' },
      'status-spelling': { type: 'string' },
      'segment-layout': { type: 'string' },
      'fail-jobs': { type: 'string' },
      'slow-jobs': { type: 'string' },
      slow: { type: 'string' },
      throttle: { type: 'string' },
      quiet: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** An abort signal for the end of the run: the caller's, or SIGINT/SIGTERM/SIGHUP (listeners removed by dispose). */
function stopSignal(given: AbortSignal | undefined): { signal: AbortSignal; dispose: () => void } {
  if (given) return { signal: given, dispose: () => {} };
  const ac = new AbortController();
  const stop = () => ac.abort();
  // SIGHUP: the terminal it ran in was closed; its data folder goes too.
  for (const sig of STOP_SIGNALS) process.once(sig, stop);
  return {
    signal: ac.signal,
    dispose: () => {
      for (const sig of STOP_SIGNALS) process.off(sig, stop);
    },
  };
}

function banner(
  emu: Awaited<ReturnType<typeof startEmulator>>,
  buckets: readonly string[],
  stepMs: number,
): string {
  const b = buckets[0] as string;
  const region = emu.region;
  const lines = [
    '# personalize-batch emulator: a local stand-in for dry runs and tests, not a recommender.',
    `# Personalize ${emu.personalizeEndpoint}, S3 ${emu.s3Endpoint}, bucket(s) ${buckets.join(', ')},`,
    `# catalog ${emu.catalog.source}, one status step every ${stepMs} ms. In a shell:`,
    ...Object.entries(emu.env).map(([k, val]) => `export ${k}=${shellQuote(val)}`),
    '# Then, with the AWS CLI for example:',
    `#   aws s3 cp batch.jsonl s3://${b}/input/batch.jsonl`,
    '#   aws personalize create-batch-inference-job --job-name demo-1 \\',
    `#     --solution-version-arn arn:aws:personalize:${region}:${EMULATOR_ACCOUNT}:solution/demo/1 \\`,
    `#     --role-arn arn:aws:iam::${EMULATOR_ACCOUNT}:role/PersonalizeBatch \\`,
    `#     --job-input 's3DataSource={path=s3://${b}/input/}' \\`,
    `#     --job-output 's3DataDestination={path=s3://${b}/output/}'`,
    `#   aws personalize describe-batch-inference-job --batch-inference-job-arn \\`,
    `#     arn:aws:personalize:${region}:${EMULATOR_ACCOUNT}:batch-inference-job/demo-1`,
    `#   aws s3 ls s3://${b}/output/`,
    '# Stop with Ctrl-C.',
    '',
  ];
  return lines.join('\n');
}

function logStatus(stderr: Writable, job: EmulatedJob): void {
  const kind = job.kind === 'batch-inference-job' ? 'batch inference job' : 'batch segment job';
  let detail = '';
  if (job.phase === 'failed') detail = `: ${job.failureReason}`;
  if (job.phase === 'active') {
    detail = ` (${job.family}: ${count(job.lines ?? 0, 'line')}, ${count(job.errorLines ?? 0, 'error')}; ${job.outputs.length} .out ${noun(job.outputs.length, 'file')})`;
  }
  stderr.write(
    `emulate: ${job.updatedAt.toISOString().slice(11, 23)} ${kind} ${job.jobName}: ${job.status}${detail}\n`,
  );
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

function port(text: string, option: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n > 65535)
    throw usage(`${option} takes a port from 0 to 65535, got "${text}"`);
  return n;
}

function oneOf<const T extends string>(
  value: string | undefined,
  option: string,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw usage(`${option} is ${allowed.join(' or ')}, got "${value}"`);
  }
  return value as T;
}

function regex(text: string, option: string): RegExp {
  try {
    return new RegExp(text);
  } catch (err) {
    throw new PbError('PB_USAGE', `${option}: not a regular expression: ${(err as Error).message}`);
  }
}
