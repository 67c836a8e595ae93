/**
 * What a run tells the user: events as they happen, the jobs counted by status, and the summary
 * submit, wait and status return.
 */
import { currentJob, type JobKind, type JobState, normalizeStatus, type Status } from './model.js';

/** Something worth telling the user, as it happens. */
export type JobEvent =
  | { type: 'state'; path: string; resumed: boolean }
  | { type: 'created'; shard: number; name: string; arn: string }
  | { type: 'found'; shard: number; name: string; arn: string }
  | { type: 'status'; shard: number; name: string; status: string; failureReason?: string }
  | { type: 'throttled'; reason: string }
  | { type: 'retry'; shard: number; attempt: number }
  | { type: 'progress'; counts: StatusCounts };

export interface StatusCounts {
  waiting: number;
  pending: number;
  running: number;
  active: number;
  failed: number;
}

export interface JobRow {
  shard: number;
  name: string;
  arn: string;
  status: string;
  records: number;
  attempts: number;
  createdAt?: string;
  updatedAt?: string;
  failureReason?: string;
  output: string;
}

export interface JobsSummary {
  state: string;
  runId: string;
  kind: JobKind;
  /** Jobs this call created (resubmissions included). */
  created: number;
  counts: StatusCounts;
  jobs: JobRow[];
  seconds: number;
}

/** The shards counted by the status of their current job (`waiting`: no job known yet). */
export function statusCounts(state: JobState): StatusCounts {
  const c: StatusCounts = { waiting: 0, pending: 0, running: 0, active: 0, failed: 0 };
  for (const s of state.shards) {
    const job = currentJob(s);
    const st: Status | 'NONE' = job?.arn ? normalizeStatus(job.status) : 'NONE';
    if (st === 'NONE') c.waiting++;
    else if (st === 'ACTIVE') c.active++;
    else if (st === 'FAILED') c.failed++;
    else if (st === 'IN_PROGRESS') c.running++;
    else c.pending++;
  }
  return c;
}

/** One row per shard: its current job, or NOT SUBMITTED. */
export function jobRows(state: JobState): JobRow[] {
  return state.shards.map((s) => {
    const j = currentJob(s);
    return {
      shard: s.index,
      name: j?.name ?? '',
      arn: j?.arn ?? '',
      status: j ? j.status : 'NOT SUBMITTED',
      records: s.records,
      attempts: s.jobs.length,
      createdAt: j?.createdAt,
      updatedAt: j?.updatedAt,
      failureReason: j?.failureReason,
      output: s.output,
    };
  });
}
