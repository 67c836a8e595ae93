/**
 * The jobs stage's public face, and its entries: submit, wait and status. One job per shard, at
 * most `maxRunning` pending or running in the region, a state file written the moment each ARN is
 * known, and a resume that finds every job a dead process created, so no shard is ever paid for
 * twice.
 *
 * options.ts resolves the options; manifest.ts and state-file.ts read what a run starts from;
 * run.ts holds the run; poll.ts follows it, recover.ts finds what a crash left, create.ts creates
 * the jobs; report.ts is what the user is told. model.ts has the state and request shapes with no
 * I/O, service.ts the Personalize calls.
 */

import { resolveFamily } from '../../core/families.js';
import { PbError } from '../../errors.js';
import { loadManifest } from './manifest.js';
import { checkJobOptions, kindOf } from './model.js';
import {
  jobService,
  resolveSubmitOptions,
  resolveWaitOptions,
  type SubmitOptions,
  type WaitOptions,
} from './options.js';
import { poll, refresh } from './poll.js';
import { resolveUnanswered } from './recover.js';
import type { JobsSummary } from './report.js';
import { Run } from './run.js';
import { Throttled } from './service.js';
import { openState, readState } from './state-file.js';

export * from './model.js';
export { defined, JOB_DEFAULTS, type SubmitOptions, type WaitOptions } from './options.js';
export type { JobEvent, JobRow, JobsSummary, StatusCounts } from './report.js';
export * from './service.js';

/** Shards' jobs created and, with `wait`, followed to the end. Resumes from the state file when there is one. */
export async function submit(options: SubmitOptions): Promise<JobsSummary> {
  const o = resolveSubmitOptions(options);
  const started = Date.now();
  const manifest = await loadManifest(o.manifest);
  const kind = kindOf(resolveFamily(manifest.family));
  checkJobOptions(kind, o);
  const { state, path, resumed } = await openState(
    o.manifest,
    manifest,
    o.solutionVersionArn,
    o.output,
    o.state,
  );
  const run = new Run(state, path, o, jobService(o));
  await run.save();
  o.onEvent?.({ type: 'state', path, resumed });
  await poll(run, true, o.wait === true);
  return run.summary(started);
}

/** A run read back from its state file, for wait and status: they never resubmit. */
async function openRun(options: WaitOptions): Promise<{ o: WaitOptions; run: Run }> {
  const o = resolveWaitOptions(options);
  const state = await readState(o.state);
  return { o, run: new Run(state, o.state, o, jobService(o)) };
}

/** Follows the jobs of a state file until each is final; creates nothing. */
export async function waitJobs(options: WaitOptions): Promise<JobsSummary> {
  const started = Date.now();
  const { o, run } = await openRun(options);
  o.onEvent?.({ type: 'state', path: o.state, resumed: true });
  await poll(run, false, true);
  return run.summary(started);
}

/** The state file refreshed once from the service (Describe per unfinished job). */
export async function jobStatus(options: WaitOptions): Promise<JobsSummary> {
  const started = Date.now();
  const { o, run } = await openRun(options);
  try {
    await refresh(run);
    await resolveUnanswered(run, false);
  } catch (err) {
    if (!(err instanceof Throttled)) throw err;
    throw new PbError('PB_JOB', `the service is throttling requests (${err.message}); try again shortly`, {
      file: o.state,
    });
  }
  return run.summary(started);
}
