import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDuration } from '../../../src/core/units.js';
import {
  checkJobOptions,
  checkState,
  createRequest,
  expectedJobArn,
  isValidJobName,
  jobName,
  newState,
  normalizeStatus,
  runIdOf,
  shardNeed,
} from '../../../src/stages/jobs/model.js';
import { throwsWith } from '../../helpers.js';

const SV = 'arn:aws:personalize:eu-west-1:123456789012:solution/emails/v1';
const ROLE = 'arn:aws:iam::123456789012:role/PersonalizeBatch';

function manifest(n: number) {
  return {
    family: 'user-personalization',
    shards: Array.from({ length: n }, (_, i) => ({
      index: i,
      uri: `s3://b/w/shard-${String(i).padStart(5, '0')}/input.jsonl`,
      folder: `s3://b/w/shard-${String(i).padStart(5, '0')}`,
      records: 10 + i,
      bytes: 100 + i,
      sha256: `sha-${i}`,
    })),
  };
}

describe('job model', () => {
  test('both status spellings normalise to the same states', () => {
    assert.equal(normalizeStatus('PENDING'), 'PENDING');
    assert.equal(normalizeStatus('CREATE PENDING'), 'PENDING');
    assert.equal(normalizeStatus('IN PROGRESS'), 'IN_PROGRESS');
    assert.equal(normalizeStatus('CREATE IN_PROGRESS'), 'IN_PROGRESS');
    assert.equal(normalizeStatus('ACTIVE'), 'ACTIVE');
    assert.equal(normalizeStatus('CREATE FAILED'), 'FAILED');
    assert.equal(normalizeStatus('DELETE PENDING'), 'UNKNOWN');
  });

  test('job names are valid for the service, deterministic and unique per shard and attempt', () => {
    const id = runIdOf([SV, 's3://b/out/', 'a', 'b']);
    assert.equal(id, runIdOf([SV, 's3://b/out/', 'a', 'b']));
    assert.notEqual(id, runIdOf([SV, 's3://b/out2/', 'a', 'b']));
    const names = new Set<string>();
    for (let shard = 0; shard < 50; shard++)
      for (let attempt = 0; attempt < 3; attempt++) names.add(jobName('pb', id, shard, attempt));
    assert.equal(names.size, 150);
    for (const n of names) assert.ok(isValidJobName(n), n);
    const long = jobName('.my weird/prefix!'.repeat(10), id, 12345, 7);
    assert.ok(isValidJobName(long), long);
    assert.equal(long.length, 63);
    assert.ok(long.endsWith(`-${id}-12345-r7`));
    assert.ok(isValidJobName(jobName('___', id, 0, 0)));
  });

  test('the expected job ARN follows the solution version region and account', () => {
    assert.equal(
      expectedJobArn(SV, 'inference', 'pb-1-00000'),
      'arn:aws:personalize:eu-west-1:123456789012:batch-inference-job/pb-1-00000',
    );
    assert.equal(
      expectedJobArn(SV, 'segment', 'x'),
      'arn:aws:personalize:eu-west-1:123456789012:batch-segment-job/x',
    );
    assert.equal(expectedJobArn('nonsense', 'inference', 'x'), null);
  });

  test('a new state gives each shard its own input folder and output folder', () => {
    const s = newState('s3://b/w/manifest.json', manifest(3), SV, 's3://b/out', new Date(0));
    assert.equal(s.output, 's3://b/out/');
    assert.equal(s.kind, 'inference');
    assert.deepEqual(
      s.shards.map((x) => [x.inputPrefix, x.output]),
      [0, 1, 2].map((i) => [`s3://b/w/shard-0000${i}/`, `s3://b/out/shard-0000${i}/`]),
    );
    assert.deepEqual(checkState(JSON.parse(JSON.stringify(s)), 'x'), s);
    throwsWith(() => checkState({ version: 2 }, 'st.json'), 'PB_USAGE', /st\.json: .*version 2/);
    const seg = newState('m', { ...manifest(1), family: 'item-affinity' }, SV, 's3://b/o/', new Date(0));
    assert.equal(seg.kind, 'segment');
    // A manifest without files[] (written before shards had several) stands for its one uri.
    assert.deepEqual(s.shards[1]?.inputs, ['s3://b/w/shard-00001/input.jsonl']);
    // A shard of several files: the state lists them all; the job still reads the folder.
    const files = [0, 1, 2].map((k) => ({ uri: `s3://b/w/shard-00000/input-0000${k}.jsonl` }));
    const m = manifest(1);
    const multi = newState(
      'm',
      {
        family: 'item-affinity',
        shards: [{ ...(m.shards[0] as (typeof m.shards)[0]), uri: files[0]?.uri as string, files }],
      },
      SV,
      's3://b/o/',
      new Date(0),
    );
    assert.deepEqual(
      multi.shards[0]?.inputs,
      files.map((f) => f.uri),
    );
    assert.equal(multi.shards[0]?.inputPrefix, 's3://b/w/shard-00000/');
  });

  test('what a shard needs next, with and without resubmissions', () => {
    const s = newState('m', manifest(1), SV, 's3://b/o/', new Date(0)).shards[0];
    assert.ok(s);
    assert.equal(shardNeed(s, 0), 'submit');
    s.jobs.push({ name: 'a', status: 'CREATING' });
    assert.equal(shardNeed(s, 0), 'resolve');
    s.jobs[0] = { name: 'a', arn: 'arn:a', status: 'CREATE IN_PROGRESS' };
    assert.equal(shardNeed(s, 0), 'watch');
    s.jobs[0] = { name: 'a', arn: 'arn:a', status: 'CREATE FAILED' };
    assert.equal(shardNeed(s, 0), 'failed');
    assert.equal(shardNeed(s, 1), 'submit');
    s.jobs.push({ name: 'a-r1', arn: 'arn:b', status: 'CREATE FAILED' });
    assert.equal(shardNeed(s, 1), 'failed');
    s.jobs[1] = { name: 'a-r1', arn: 'arn:b', status: 'ACTIVE' };
    assert.equal(shardNeed(s, 1), 'done');
  });

  test('every CreateBatchInferenceJob field maps; segment requests carry only their fields', () => {
    const s = newState('m', manifest(1), SV, 's3://b/o/', new Date(0));
    const shard = s.shards[0];
    assert.ok(shard);
    const opts = {
      solutionVersionArn: SV,
      roleArn: ROLE,
      numResults: 50,
      filterArn: 'arn:aws:personalize:eu-west-1:123456789012:filter/f',
      explorationWeight: '0.3',
      explorationItemAgeCutoff: '30',
      rankingInfluence: { POPULARITY: 0.5 },
      themeItemNameColumn: 'TITLE',
      inputKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/in',
      outputKmsKeyArn: 'arn:aws:kms:eu-west-1:123456789012:key/out',
      tags: { team: 'crm' },
    };
    assert.deepEqual(createRequest('inference', 'n', shard, opts), {
      jobName: 'n',
      solutionVersionArn: SV,
      roleArn: ROLE,
      numResults: 50,
      filterArn: opts.filterArn,
      jobInput: { s3DataSource: { path: 's3://b/w/shard-00000/', kmsKeyArn: opts.inputKmsKeyArn } },
      jobOutput: { s3DataDestination: { path: 's3://b/o/shard-00000/', kmsKeyArn: opts.outputKmsKeyArn } },
      tags: [{ tagKey: 'team', tagValue: 'crm' }],
      batchInferenceJobConfig: {
        itemExplorationConfig: { explorationWeight: '0.3', explorationItemAgeCutOff: '30' },
        rankingInfluence: { POPULARITY: 0.5 },
      },
      batchInferenceJobMode: 'THEME_GENERATION',
      themeGenerationConfig: { fieldsForThemeGeneration: { itemName: 'TITLE' } },
    });
    const seg = createRequest('segment', 'n', shard, {
      solutionVersionArn: SV,
      roleArn: ROLE,
      numResults: 1000,
    });
    assert.deepEqual(Object.keys(seg).sort(), [
      'jobInput',
      'jobName',
      'jobOutput',
      'numResults',
      'roleArn',
      'solutionVersionArn',
    ]);
  });

  test('options the service would refuse are usage errors naming the option', () => {
    const ok = { solutionVersionArn: SV, roleArn: ROLE };
    checkJobOptions('inference', ok);
    throwsWith(() => checkJobOptions('inference', { ...ok, roleArn: 'role' }), 'PB_USAGE', /--role-arn/);
    throwsWith(
      () => checkJobOptions('inference', { ...ok, solutionVersionArn: 'x' }),
      'PB_USAGE',
      /--solution-version-arn/,
    );
    throwsWith(
      () => checkJobOptions('inference', { ...ok, explorationWeight: '2' }),
      'PB_USAGE',
      /--exploration-weight/,
    );
    throwsWith(
      () => checkJobOptions('inference', { ...ok, rankingInfluence: { NOVELTY: 0.1 } }),
      'PB_USAGE',
      /--ranking-influence.*NOVELTY/,
    );
    throwsWith(
      () => checkJobOptions('inference', { ...ok, themeItemNameColumn: '1x' }),
      'PB_USAGE',
      /--theme-item-name/,
    );
    throwsWith(
      () => checkJobOptions('segment', { ...ok, explorationWeight: '0.1' }),
      'PB_USAGE',
      /segment jobs take no --exploration-weight/,
    );
  });

  test('durations', () => {
    assert.equal(parseDuration('60s', 'x'), 60_000);
    assert.equal(parseDuration('2m', 'x'), 120_000);
    assert.equal(parseDuration('250ms', 'x'), 250);
    assert.equal(parseDuration('5', 'x'), 5000);
    throwsWith(() => parseDuration('soon', '--poll-interval'), 'PB_USAGE', /--poll-interval/);
    assert.equal(parseDuration('1.5s', 'x'), 1500);
    assert.equal(parseDuration(' 3 MIN ', 'x'), 180_000);
    throwsWith(() => parseDuration('5d', '--step'), 'PB_USAGE', /--step takes a duration .* got "5d"/);
    throwsWith(() => parseDuration('-1s', '--step'), 'PB_USAGE', /--step takes a duration/);
    // 0 only where the caller means "no delay" (the emulator's --step and --slow).
    throwsWith(
      () => parseDuration('0', '--poll-interval'),
      'PB_USAGE',
      /--poll-interval must be more than 0/,
    );
    throwsWith(() => parseDuration('0.1ms', '--poll-interval'), 'PB_USAGE', /must be more than 0/);
    assert.equal(parseDuration('0', '--step', { allowZero: true }), 0);
    assert.equal(parseDuration('0ms', '--step', { allowZero: true }), 0);
    // Past 2^31-1 ms setTimeout fires at once, so a long poll interval would spin.
    assert.equal(parseDuration(`${2 ** 31 - 1}ms`, 'x'), 2 ** 31 - 1);
    throwsWith(
      () => parseDuration('1000h', '--poll-interval'),
      'PB_USAGE',
      /--poll-interval must be at most/,
    );
    throwsWith(
      () => parseDuration(`${2 ** 31}ms`, '--step', { allowZero: true }),
      'PB_USAGE',
      /--step must be at most/,
    );
  });
});
