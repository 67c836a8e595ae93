/**
 * Following jobs with the service: the polling loop, the refresh of the unfinished jobs, and the
 * jittered, abortable pause between passes.
 */
import pLimit from 'p-limit';
import { count } from '../../core/units.js';
import { PbError } from '../../errors.js';
import { fill } from './create.js';
import { currentJob, isTerminal, normalizeStatus, shardNeed } from './model.js';
import { resolveUnanswered } from './recover.js';
import { statusCounts } from './report.js';
import type { Run } from './run.js';
import { Throttled } from './service.js';

/**
 * One pass per interval: refresh unfinished jobs, find jobs a crashed run
 * created, then fill the free slots. Ends when every shard has a job
 * (submit) or every job is final (wait).
 */
export async function poll(run: Run, create: boolean, untilFinal: boolean): Promise<void> {
  for (;;) {
    try {
      await refresh(run);
      await resolveUnanswered(run, create);
      if (create) await fill(run);
    } catch (err) {
      // Throttled or over the quota: never a failure, only a reason to wait.
      if (!(err instanceof Throttled)) throw err;
      run.o.onEvent?.({ type: 'throttled', reason: err.message });
      await sleep(run);
      continue;
    }
    const needs = run.state.shards.map((s) => shardNeed(s, run.o.retryFailed));
    run.o.onEvent?.({ type: 'progress', counts: statusCounts(run.state) });
    const unsubmitted = needs.filter((n) => n === 'submit' || n === 'resolve').length;
    const watching = needs.filter((n) => n === 'watch').length;
    if (!create && unsubmitted > 0 && watching === 0) {
      throw new PbError(
        'PB_JOB',
        `${count(unsubmitted, 'shard')} ${unsubmitted === 1 ? 'has' : 'have'} no job yet: run submit with the same manifest and output`,
        { file: run.path },
      );
    }
    if (untilFinal ? unsubmitted === 0 && watching === 0 : unsubmitted === 0) return;
    await sleep(run);
  }
}

/** Describe every job not yet final, and record what changed. */
export async function refresh(run: Run): Promise<void> {
  const limit = pLimit(4);
  let changed = false;
  await Promise.all(
    run.state.shards.map((shard) =>
      limit(async () => {
        const job = currentJob(shard);
        if (!job?.arn || isTerminal(normalizeStatus(job.status))) return;
        const v = await run.service.describe(run.kind, job.arn);
        if (!v)
          throw new PbError(
            'PB_JOB',
            `job ${job.name} (${job.arn}) is unknown to the service: wrong region or account?`,
            { file: run.path },
          );
        if (run.apply(shard, job, v)) changed = true;
      }),
    ),
  );
  if (changed) await run.save();
}

function sleep(run: Run): Promise<void> {
  const ms = run.o.pollIntervalMs * (0.8 + 0.4 * Math.random());
  const signal = run.o.signal;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
