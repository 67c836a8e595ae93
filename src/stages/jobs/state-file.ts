/**
 * The state file: a run's shards and their jobs, written the moment each ARN is known (and ahead
 * of each Create call), so a resume finds every job a dead process created.
 */
import { PbError } from '../../errors.js';
import { readJsonDoc, writeJsonDoc } from '../../io/doc.js';
import { checkState, type JobState, type ManifestLike, newState } from './model.js';

/**
 * Submit's state: the file's when there is one (it must belong to this run: same shards, solution
 * version and output), a fresh one otherwise. `path` defaults to `<output>state.json`.
 */
export async function openState(
  manifestUri: string,
  manifest: ManifestLike,
  solutionVersionArn: string,
  output: string,
  path: string | undefined,
): Promise<{ state: JobState; path: string; resumed: boolean }> {
  const fresh = newState(manifestUri, manifest, solutionVersionArn, output, new Date());
  const statePath = path ?? `${fresh.output}state.json`;
  const existing = await readJsonDoc(statePath, true);
  if (existing === undefined) return { state: fresh, path: statePath, resumed: false };
  const state = checkState(existing, statePath);
  // Written before empty shards were left out of manifests: never give one a job.
  state.shards = state.shards.filter((sh) => sh.records !== 0 || sh.jobs.length > 0);
  if (state.runId !== fresh.runId)
    throw new PbError(
      'PB_USAGE',
      `this state file belongs to another run (run ${state.runId}: other shards, solution version or output); give another --state or --output`,
      { file: statePath },
    );
  return { state, path: statePath, resumed: true };
}

/** The state of a run read back, for wait and status. */
export async function readState(path: string): Promise<JobState> {
  return checkState(await readJsonDoc(path), path);
}

export async function saveState(path: string, state: JobState): Promise<void> {
  state.updatedAt = new Date().toISOString();
  await writeJsonDoc(path, state);
}
