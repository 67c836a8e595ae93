/**
 * One run of jobs: its state, where the state is written, the options and the service, and what
 * following, resuming and creating jobs share: recording what the service says of a job, and
 * finding a job by name.
 */
import { expectedJobArn, type JobAttempt, type JobKind, type JobState, type ShardState } from './model.js';
import type { RunOptions } from './options.js';
import { type JobsSummary, jobRows, statusCounts } from './report.js';
import type { JobService, JobView } from './service.js';
import { saveState } from './state-file.js';

export class Run {
  /** Jobs this call created (resubmissions included). */
  created = 0;
  readonly kind: JobKind;

  constructor(
    readonly state: JobState,
    readonly path: string,
    readonly o: RunOptions,
    readonly service: JobService,
  ) {
    this.kind = state.kind;
  }

  async save(): Promise<void> {
    await saveState(this.path, this.state);
  }

  /** Records what the service says of a shard's job; tells the user and returns whether anything changed. */
  apply(shard: ShardState, job: JobAttempt, v: JobView): boolean {
    const before = `${job.status}|${job.failureReason ?? ''}|${job.arn ?? ''}`;
    job.arn = v.arn || job.arn;
    job.status = v.status;
    job.failureReason = v.failureReason;
    if (v.creationDateTime) job.createdAt = v.creationDateTime.toISOString();
    if (v.lastUpdatedDateTime) job.updatedAt = v.lastUpdatedDateTime.toISOString();
    const changed = before !== `${job.status}|${job.failureReason ?? ''}|${job.arn ?? ''}`;
    if (changed)
      this.o.onEvent?.({
        type: 'status',
        shard: shard.index,
        name: job.name,
        status: v.status,
        failureReason: v.failureReason,
      });
    return changed;
  }

  /** A job by name: Describe of the ARN the name gives, else the listing. */
  async findJob(name: string, byName: Map<string, JobView>): Promise<JobView | null> {
    const arn = expectedJobArn(this.state.solutionVersionArn, this.kind, name);
    if (arn) {
      const v = await this.service.describe(this.kind, arn);
      if (v) return v;
    }
    return byName.get(name) ?? null;
  }

  async listByName(solutionVersionArn?: string): Promise<Map<string, JobView>> {
    const m = new Map<string, JobView>();
    for await (const v of this.service.list(this.kind, solutionVersionArn)) m.set(v.name, v);
    return m;
  }

  summary(started: number): JobsSummary {
    return {
      state: this.path,
      runId: this.state.runId,
      kind: this.kind,
      created: this.created,
      counts: statusCounts(this.state),
      jobs: jobRows(this.state),
      seconds: (Date.now() - started) / 1000,
    };
  }
}
