/** `run PIPELINE.json`: the whole workflow from one file, over src/run.ts. */
import { noun } from '../../core/units.js';
import { PbError } from '../../errors.js';
import { type RunEvent, type RunSummary, runPipeline } from '../../stages/run/index.js';
import { AWS_OPTIONS, awsEnvironment, type CliIO, parse, progressLine, write } from '../common.js';
import { describeInputs } from '../inputs.js';

export const RUN_HELP = `Usage: personalize-batch run PIPELINE.json [--dry-run] [--json] [options]

Does the whole job from one pipeline file: prepare (dedupe, rejects), shard and upload to the
work prefix, check the uploaded shards, create one batch job per shard (at most 5 at once),
wait for them, collect and reconcile the outputs, and export them (CSV or JSON Lines, with
catalog columns). The pipeline file's schema is schemas/pipeline.schema.json; a mistake in it
is reported with its JSON path before anything is uploaded.

Run the same command again after an interruption, even a killed process: finished steps are
reused, existing jobs are found (never created twice), and the run goes on where it stopped.
WORK/run.json records the steps; WORK/output/state.json the jobs.

Options:
      --dry-run              print the plan (records, shards, job names, where every file goes)
                             after reading and sharding the input in a local temporary folder;
                             nothing is uploaded and no job is created
      --json                 print the summary as JSON
      --region R, --profile P  override the pipeline's aws section
      --endpoint-url URL     an S3-compatible endpoint (AWS_ENDPOINT_URL_S3 also works)
      --personalize-endpoint-url URL  a Personalize-compatible endpoint (the emulator;
                             AWS_ENDPOINT_URL_PERSONALIZE also works)
  -h, --help

Exit codes: 0 done; 1 a job failed, input records are missing from the output, a record was
refused, or a step failed (the summary says what to do next); 2 a usage or pipeline file error.

Examples:
  personalize-batch run pipeline.json --dry-run
  personalize-batch run pipeline.json
  personalize-batch run pipeline.json --json > summary.json
  personalize-batch emulate &   # then, with its environment: personalize-batch run pipeline.json`;

const RUN_OPTIONS = {
  ...AWS_OPTIONS,
  'personalize-endpoint-url': { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export async function runRun(args: readonly string[], io: CliIO): Promise<number> {
  const { values: v, positionals } = parse('run', args, RUN_OPTIONS);
  if (v.help) {
    write(io.stdout, `${RUN_HELP}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new PbError('PB_USAGE', 'run takes one PIPELINE.json (see --help)');
  const reporter = new RunReporter(io);
  let summary: RunSummary;
  try {
    summary = await runPipeline({
      pipeline: positionals[0] as string,
      dryRun: v['dry-run'],
      s3: { region: v.region, profile: v.profile, endpoint: v['endpoint-url'] },
      personalize: { region: v.region, profile: v.profile, endpoint: v['personalize-endpoint-url'] },
      environment: awsEnvironment(io),
      onEvent: (e) => reporter.event(e),
      signal: io.signal,
    });
  } finally {
    reporter.clear();
  }
  write(io.stdout, v.json ? `${JSON.stringify(summary)}\n` : describeRun(summary));
  return summary.exitCode;
}

/** Stage lines on stderr; on a terminal also one progress line redrawn in place. */
export class RunReporter {
  private readonly progress;

  constructor(private readonly io: CliIO) {
    this.progress = progressLine(io.stderr);
  }

  event(e: RunEvent): void {
    switch (e.type) {
      case 'stage':
        this.line(`${e.stage}: ${e.reused ? 'done before, reused' : 'started'} (${e.detail})`);
        break;
      case 'problem':
        this.line(e.message);
        break;
      case 'warning':
        this.line(`warning: ${e.message}`);
        break;
      case 'progress':
        if (e.stage === 'prepare')
          this.progress?.show(`prepare: ${e.records.toLocaleString('en')} records, ${mb(e.bytes)} read`);
        else this.progress?.show(`${e.stage}: ${e.lines.toLocaleString('en')} lines, ${mb(e.bytes)} read`);
        break;
      case 'jobs': {
        const c = e.counts;
        this.progress?.show(
          `jobs: ${c.active + c.failed}/${e.total} finished (${c.active} active, ${c.failed} failed), ${c.running} running, ${c.pending} pending, ${c.waiting} waiting`,
        );
        break;
      }
      case 'job': {
        const j = e.event;
        if (j.type === 'created') this.line(`shard ${j.shard}: created job ${j.name}`);
        else if (j.type === 'found') this.line(`shard ${j.shard}: found job ${j.name}`);
        else if (j.type === 'retry') this.line(`shard ${j.shard}: resubmitting (attempt ${j.attempt + 1})`);
        else if (j.type === 'status' && j.failureReason)
          this.line(`shard ${j.shard}: ${j.name} ${j.status}: ${j.failureReason}`);
        break;
      }
    }
  }

  private line(text: string): void {
    this.progress?.clear();
    write(this.io.stderr, `personalize-batch: ${text}\n`);
  }

  clear(): void {
    this.progress?.clear();
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** The summary as a few aligned lines. */
export function describeRun(s: RunSummary): string {
  const n = (x: number) => x.toLocaleString('en');
  const out: string[] = [];
  if (s.dryRun) {
    out.push(`plan for ${s.pipeline} (dry run: nothing uploaded, no job created)`);
    if (s.resumed.length > 0)
      out.push(`  resumes: ${s.resumed.join(', ')} already done in ${s.work}run.json`);
  } else
    out.push(
      `run ${s.exitCode === 0 ? 'done' : 'finished with problems'} in ${s.seconds.toFixed(1)} s${s.resumed.length > 0 ? ` (reused: ${s.resumed.join(', ')})` : ''}`,
    );
  const r = s.records;
  // How the sources were read, as prepare prints it.
  for (const line of describeInputs({ inputs: s.inputs, inputsNotListed: 0 }))
    out.push(`  input        ${line}`);
  out.push(
    `  records      ${n(r.read)} read, ${n(r.written)} to run, ${n(r.duplicates)} ${noun(r.duplicates, 'duplicate')}, ${n(r.rejected)} rejected${r.inactive > 0 ? `, ${n(r.inactive)} before input.since` : ''}${r.filteredOut > 0 ? `, ${n(r.filteredOut)} left out by input.where` : ''}`,
  );
  out.push(`  shards       ${s.shards.count} (${n(s.shards.bytes)} bytes) in ${s.shards.manifest}`);
  if (s.dryRun) {
    // One line per shard folder (a job's input path); a shard of several files shows its first and how many.
    const folders = new Map<string, string[]>();
    for (const uri of s.shards.uris) {
      const folder = uri.slice(0, uri.lastIndexOf('/') + 1);
      folders.set(folder, [...(folders.get(folder) ?? []), uri]);
    }
    for (const [i, uris] of [...folders.values()].entries()) {
      const more = uris.length > 1 ? ` (+${uris.length - 1} more files)` : '';
      out.push(`    ${uris[0]}${more}  job ${s.jobs.names[i] ?? ''}`);
    }
    out.push(`  job state    ${s.jobs.state}`);
  } else {
    out.push(
      `  jobs         ${s.jobs.active} active, ${s.jobs.failed} failed, ${s.jobs.created} created by this call (state ${s.jobs.state})`,
    );
  }
  if (s.collect) {
    const c = s.collect;
    out.push(
      `  outputs      ${n(c.written)} ${noun(c.written, 'line')} merged, ${n(c.missing)} missing, ${n(c.errorKeys)} in error, ${n(c.duplicates)} ${noun(c.duplicates, 'duplicate')} dropped`,
    );
  }
  if (s.export) {
    const u = s.export.users;
    // The join of output.users: how many exported users the file lacks (their columns empty, or dropped).
    const users = u
      ? `; users file: ${n(u.inFile)} ${noun(u.inFile, 'user')}, ${n(u.missing)} of the export's not in it${u.dropped > 0 ? ` (${n(u.dropped)} dropped)` : ''}`
      : '';
    out.push(
      `  export       ${n(s.export.records)} ${noun(s.export.records, 'key')}, ${n(s.export.rows)} ${noun(s.export.rows, 'row')} (${s.export.format})${users}`,
    );
  }
  const d = s.export?.since;
  if (d)
    out.push(
      `  since        ${d.prev}: ${n(d.new)} new, ${n(d.changed)} changed, ${n(d.unchanged)} unchanged (not written), ${n(d.removed)} removed`,
    );
  const files = filesOf(s);
  out.push(`  files${s.dryRun ? ' (to be written)' : ''}`);
  for (const [label, path] of files) if (path) out.push(`    ${label.padEnd(9)}${path}`);
  // Warnings went to stderr as each step gave them; the count keeps them in view at the end.
  if (s.warnings.length > 0)
    out.push(`  warnings     ${s.warnings.length} (above, and in the summary's warnings)`);
  for (const a of s.advice) out.push(`next: ${a}`);
  return `${out.join('\n')}\n`;
}

/** The files of a run, labelled, in the order the summary lists them (the caller leaves out those without a path). */
function filesOf(s: RunSummary): [string, string | null][] {
  const f = s.files;
  // Parts (output.maxFileSize) are the files written; files.export is only the name they are numbered from.
  const exports: [string, string | null][] = f.exportParts
    ? f.exportParts.map((part, i) => [i === 0 ? 'export' : '', part])
    : [['export', f.export]];
  // Side files written on every run, empty or not, so that one an earlier run left never stays behind.
  const empty = (path: string | null, none: boolean, why: string) =>
    path && none ? `${path} (empty: ${why})` : path;
  return [
    ...exports,
    ['removed', f.removed ?? null],
    ['merged', f.merged],
    ['rejects', empty(f.rejects, s.records.rejected === 0, 'no row rejected')],
    ['missing', empty(f.missing, s.collect?.missing === 0, 'every record has a line')],
    ['errors', empty(f.errors, s.collect?.errorKeys === 0, 'no error line')],
    ['invalid', f.invalid],
    ['summary', f.summary],
    ['history', f.history ?? null],
    ['report', f.report ?? null],
  ];
}
