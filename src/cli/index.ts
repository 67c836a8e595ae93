import { alternatives, closest } from '../core/suggest.js';
import { isPbError, PbError } from '../errors.js';
import { removeTemporaryFiles } from '../io/output.js';
import { describePrepare, runPrepare } from './commands/prepare.js';
import { runShard } from './commands/shard.js';
import { runValidate } from './commands/validate.js';
import { CliInterrupt, type CliIO, write } from './common.js';

export type { CliIO };
export { describePrepare };

const VERSION = '0.1.0';

const MAIN_HELP = `personalize-batch: prepare, validate, shard, run and export Amazon Personalize batch jobs.

Usage: personalize-batch <command> [options]

Commands:
  prepare    turn user lists, catalogs and interaction files into batch-input JSON Lines
  validate   check batch-input JSON Lines against the schema and the service limits
  shard      split batch input into shards that each fit one batch job, with a manifest
  submit     create one batch job per shard (at most 5 at once), resumable after a crash
  status     print the jobs of a state file: shard, job, status, records, age, failure
  wait       block until every job of a state file is ACTIVE or CREATE FAILED
  collect    merge all shard outputs, drop duplicate keys, list missing and failed input records
  export     turn batch output (.out files, folders, s3:// prefixes) into CSV or per-key JSON Lines
  sql        print SQL for DuckDB, Athena or Spark: export's rows from the outputs where they lie,
             or batch input written from a warehouse table
  report     a page (report.html) and report.json of batch outputs: counts, top items, Gini,
             scores per rank, catalog coverage, changes since a previous run
  run        the whole job from a pipeline file: prepare, shard, upload, jobs, collect, export;
             resumable after any interruption
  demo       run the main job on a generated sample (no AWS account needed)
  emulate    a local stand-in for Personalize batch jobs and S3, for dry runs and tests

Run \`personalize-batch <command> --help\` for a command's options and examples.
Exit codes: 0 success, 1 invalid data or a failed step, 2 usage error.

Examples:
  personalize-batch demo
  personalize-batch run pipeline.json --dry-run
  personalize-batch prepare --recipe user-personalization emails.csv -o batch.jsonl
  personalize-batch validate --recipe user-personalization batch.jsonl`;

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        write(io.stdout, `${MAIN_HELP}\n`);
        return command === undefined ? 2 : 0;
      case '--version':
      case '-v':
        write(io.stdout, `${VERSION}\n`);
        return 0;
      case 'prepare':
        return await runPrepare(rest, io);
      case 'validate':
        return await runValidate(rest, io);
      case 'shard':
        return await runShard(rest, io);
      case 'submit':
      case 'status':
      case 'wait': {
        const jobs = await import('./commands/jobs.js');
        const fn =
          command === 'submit' ? jobs.runSubmit : command === 'status' ? jobs.runStatus : jobs.runWait;
        return await fn(rest, io);
      }
      case 'export':
        return await (await import('./commands/export.js')).runExport(rest, io);
      case 'collect':
        return await (await import('./commands/collect.js')).runCollect(rest, io);
      case 'sql':
        return await (await import('./commands/sql.js')).runSql(rest, io);
      case 'report':
        return await (await import('./commands/report.js')).runReport(rest, io);
      case 'run':
        return await (await import('./commands/run.js')).runRun(rest, io);
      case 'demo': {
        const { runDemo } = await import('./commands/demo.js');
        return await runDemo(rest, io);
      }
      case 'emulate':
        return await (await import('./commands/emulate.js')).runEmulate(rest, io);
      default:
        throw new PbError('PB_USAGE', unknownCommand(command));
    }
  } catch (err) {
    return reportError(err, io, command);
  }
}

const COMMANDS = [
  'prepare',
  'validate',
  'shard',
  'submit',
  'status',
  'wait',
  'collect',
  'export',
  'sql',
  'report',
  'run',
  'demo',
  'emulate',
  'help',
];

function unknownCommand(command: string): string {
  if (command.startsWith('-')) {
    const near = closest(command.replace(/^--?/, ''), ['help', 'version']);
    if (near.length > 0) return `unknown option ${command}; did you mean --${near[0]}?`;
    // Any other option here is most likely one of a command's, given without the command.
    return `unknown option ${command}; a command comes first, as in personalize-batch prepare --recipe FAMILY (see personalize-batch --help)`;
  }
  const near = closest(command, COMMANDS);
  const hint = near.length > 0 ? `did you mean ${alternatives(near)}?` : 'run personalize-batch --help';
  return `unknown command "${command}"; ${hint}`;
}

export function reportError(err: unknown, io: CliIO, command?: string): number {
  const interrupted = io.signal?.aborted ? io.signal.reason : undefined;
  if (interrupted instanceof CliInterrupt) {
    // Whatever the command failed with once Ctrl-C aborted it (the AbortError, most often) is the
    // interruption: the library has removed its temporary files and partial outputs by now.
    write(io.stderr, `\npersonalize-batch: ${interrupted.hint(command)}\n`);
    return interrupted.exitCode;
  }
  if ((err as NodeJS.ErrnoException)?.code === 'EPIPE') {
    // The reader of stdout went away: the command stops there, and what it was writing beside
    // stdout (rejects, errors.jsonl) is removed rather than left half-written.
    removeTemporaryFiles();
    return 0;
  }
  if (isPbError(err)) {
    write(io.stderr, `personalize-batch: ${err.message}\n`);
    return err.code === 'PB_USAGE' ? 2 : 1;
  }
  write(io.stderr, `personalize-batch: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  return 1;
}
