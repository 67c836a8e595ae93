/** Resuming after a crash: the jobs whose Create call never answered, found or made again. */
import { currentJob, type JobAttempt, shardNeed } from './model.js';
import type { Run } from './run.js';

/**
 * Attempts written before their Create call answered: the job may exist.
 * Look it up by its expected ARN, then by name in the listing; if it is not
 * there the Create never reached the service and the attempt is retried
 * under the same name. Returns whether anything was resolved.
 */
export async function resolveUnanswered(run: Run, create: boolean): Promise<boolean> {
  const open = run.state.shards.filter((s) => shardNeed(s, run.o.retryFailed) === 'resolve');
  if (open.length === 0) return false;
  const byName = await run.listByName(run.state.solutionVersionArn);
  for (const shard of open) {
    const job = currentJob(shard) as JobAttempt;
    const found = await run.findJob(job.name, byName);
    if (found) {
      run.apply(shard, job, found);
      run.o.onEvent?.({ type: 'found', shard: shard.index, name: job.name, arn: found.arn });
    } else if (create) {
      // Never reached the service: drop the attempt so fill() makes it again, same name.
      shard.jobs.pop();
    }
  }
  await run.save();
  return true;
}
