import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readJsonDoc } from '../../../src/io/doc.js';
import type { JobState } from '../../../src/stages/jobs/model.js';
import { BUCKET, duringExport, emu, jobsOf, keysUnder, killAndResume, poll, s3Path } from './run-fixture.js';

// `run` killed at four points and resumed, against the emulator (run-fixture.ts); Ctrl-C, the demo
// and progress are in run-demo.test.ts.

describe('run: killed and resumed', () => {
  test('SIGKILL during the upload of the shards', async () => {
    let seen: string[] = [];
    await killAndResume(400, async (_c, { work }) => {
      // Every PUT under input/ held a while, so the kill lands with some shard objects complete
      // and no manifest yet, however fast the machine.
      emu.injectFault({ slowS3: new RegExp(`^PUT ${s3Path(work)}input/`), slowS3Ms: 300 });
      await poll(async () => {
        seen = await keysUnder(`${work}input/`);
        return seen.some((k) => k.endsWith('input.jsonl'));
      });
      emu.injectFault({ slowS3: undefined });
    });
    assert.ok(!seen.includes('manifest.json'), `killed too late: ${seen.join(' ')}`);
  });

  test('SIGKILL between two job creations', async () => {
    const { resumed } = await killAndResume(400, (_c, { prefix }) => {
      return new Promise<void>((resolve) => {
        emu.on('create', (job) => {
          if (job.jobName.startsWith(`${prefix}-`) && jobsOf(prefix).length === 2) resolve();
        });
      });
    });
    assert.match(resumed.stderr, /prepare: done before, reused/);
    assert.match(resumed.stdout, /2 created by this call/);
  });

  test('SIGKILL while waiting for the jobs', async () => {
    const { prefix, resumed } = await killAndResume(400, (_c, { prefix }) => {
      emu.injectFault({ slowJobs: new RegExp(`^${prefix}-`), slowMs: 400 });
      return new Promise<void>((resolve) => {
        emu.on('request', (e) => {
          if (/^Describe/.test(e.operation) && jobsOf(prefix).length === 4) resolve();
        });
      });
    });
    emu.injectFault({ slowJobs: undefined });
    assert.match(resumed.stdout, /0 created by this call/);
    const state = (await readJsonDoc(`s3://${BUCKET}/run-${prefix.slice(1)}/output/state.json`)) as JobState;
    assert.ok(state.shards.every((s) => s.jobs.length === 1));
  });

  test('SIGKILL during the export', async () => {
    const { resumed } = await killAndResume(400, duringExport);
    assert.match(resumed.stderr, /collect: done before, reused/);
    assert.match(resumed.stderr, /export: started/);
  });
});
