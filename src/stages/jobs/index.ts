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
import { withCall } from '../../io/clients.js';
import { loadManifest } from './manifest.js';
import { checkJobOptions, kindOf } from './model.js';
import {
  type CommonOptions,
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
import { type JobService, Throttled } from './service.js';
import { openState, readState } from './state-file.js';

export * from './model.js';
export {
  type CommonOptions,
  defined,
  JOB_DEFAULTS,
  type SubmitOptions,
  type WaitOptions,
} from './options.js';
export type { JobEvent, JobRow, JobsSummary, StatusCounts } from './report.js';
export * from './service.js';

/** Shards' jobs created and, with `wait`, followed to the end. Resumes from the state file when there is one. */
export function submit(options: SubmitOptions): Promise<JobsSummary> {
  return withCall(options, async () => {
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
    return withService(o, async (service) => {
      const run = new Run(state, path, o, service);
      await run.save();
      o.onEvent?.({ type: 'state', path, resumed });
      await poll(run, true, o.wait === true);
      return run.summary(started);
    });
  });
}

/** `fn` with the options' service, its client destroyed after when made for this call. */
async function withService<T>(o: CommonOptions, fn: (service: JobService) => Promise<T>): Promise<T> {
  const { service, close } = jobService(o);
  try {
    return await fn(service);
  } finally {
    close();
  }
}

/** A run read back from its state file, for wait and status (they never resubmit), handed to `fn`. */
function withRun<T>(options: WaitOptions, fn: (o: WaitOptions, run: Run) => Promise<T>): Promise<T> {
  return withCall(options, async () => {
    const o = resolveWaitOptions(options);
    const state = await readState(o.state);
    return withService(o, (service) => fn(o, new Run(state, o.state, o, service)));
  });
}

/** Follows the jobs of a state file until each is final; creates nothing. */
export function waitJobs(options: WaitOptions): Promise<JobsSummary> {
  const started = Date.now();
  return withRun(options, async (o, run) => {
    o.onEvent?.({ type: 'state', path: o.state, resumed: true });
    await poll(run, false, true);
    return run.summary(started);
  });
}

/** The state file refreshed once from the service (Describe per unfinished job). */
export function jobStatus(options: WaitOptions): Promise<JobsSummary> {
  const started = Date.now();
  return withRun(options, async (o, run) => {
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
  });
}
