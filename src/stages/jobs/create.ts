/**
 * Creating jobs: one per shard that needs one, as long as the region has a free slot, each
 * attempt written to the state file before its Create call so a crash never loses a job.
 */
import { PbError } from '../../errors.js';
import {
  createRequest,
  isTerminal,
  type JobAttempt,
  type JobOptions,
  jobName,
  normalizeStatus,
  type ShardState,
  shardNeed,
} from './model.js';
import type { Run } from './run.js';
import { AlreadyExists, Throttled } from './service.js';

/** Creates jobs for shards that need one, as long as the region has free slots. */
export async function fill(run: Run): Promise<void> {
  const todo = run.state.shards.filter((s) => shardNeed(s, run.o.retryFailed) === 'submit');
  if (todo.length === 0) return;
  const running = await runningInRegion(run);
  let free = run.o.maxRunning - running;
  for (const shard of todo) {
    if (free <= 0) return;
    const outcome = await createFor(run, shard);
    if (outcome === 'throttled') return;
    free--;
  }
}

async function runningInRegion(run: Run): Promise<number> {
  let n = 0;
  for await (const v of run.service.list(run.kind)) if (!isTerminal(normalizeStatus(v.status))) n++;
  return n;
}

async function createFor(run: Run, shard: ShardState): Promise<'created' | 'throttled'> {
  const attempt = shard.jobs.length;
  if (attempt > 0) run.o.onEvent?.({ type: 'retry', shard: shard.index, attempt });
  const name = jobName(run.o.jobNamePrefix, run.state.runId, shard.index, attempt);
  const job: JobAttempt = { name, status: 'CREATING' };
  // Written ahead: if the process dies during the call, the next run knows to look for this name.
  shard.jobs.push(job);
  await run.save();
  let arn: string;
  try {
    arn = await run.service.create(run.kind, createRequest(run.kind, name, shard, jobOptions(run)));
  } catch (err) {
    if (err instanceof Throttled) {
      shard.jobs.pop();
      await run.save();
      run.o.onEvent?.({ type: 'throttled', reason: err.message });
      return 'throttled';
    }
    if (err instanceof AlreadyExists) {
      const found = await run.findJob(name, await run.listByName(run.state.solutionVersionArn));
      if (!found)
        throw new PbError('PB_JOB', `a job named ${name} exists but neither Describe nor List finds it`, {
          file: run.path,
        });
      run.apply(shard, job, found);
      await run.save();
      run.o.onEvent?.({ type: 'found', shard: shard.index, name, arn: found.arn });
      return 'created';
    }
    // Aborted mid-call: the Create may have reached the service, so the attempt stays written and
    // the next run finds it by name rather than paying for the shard twice.
    if (run.o.signal?.aborted) throw err;
    shard.jobs.pop();
    await run.save();
    throw err;
  }
  job.arn = arn;
  job.status = 'CREATE PENDING';
  job.createdAt = new Date().toISOString();
  await run.save();
  run.created++;
  run.o.onEvent?.({ type: 'created', shard: shard.index, name, arn });
  return 'created';
}

function jobOptions(run: Run): JobOptions {
  const o = run.o;
  if (!o.roleArn) throw new PbError('PB_USAGE', 'submit needs --role-arn');
  return {
    solutionVersionArn: run.state.solutionVersionArn,
    roleArn: o.roleArn,
    numResults: o.numResults,
    filterArn: o.filterArn,
    explorationWeight: o.explorationWeight,
    explorationItemAgeCutoff: o.explorationItemAgeCutoff,
    rankingInfluence: o.rankingInfluence,
    themeItemNameColumn: o.themeItemNameColumn,
    inputKmsKeyArn: o.inputKmsKeyArn,
    outputKmsKeyArn: o.outputKmsKeyArn,
    tags: o.tags,
  };
}
