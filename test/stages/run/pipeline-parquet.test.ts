import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { resolvePipeline } from '../../../src/stages/run/pipeline.js';
import { throwsWith } from '../../helpers.js';

// output.format parquet and output.partitionBy: the pipeline file's rules.

const base = {
  version: 1,
  recipe: 'user-personalization',
  input: { sources: ['a.csv'] },
  work: 's3://bucket/x/',
  jobs: {
    solutionVersionArn: 'arn:aws:personalize:eu-west-1:111122223333:solution/s/1a2b3c4d',
    roleArn: 'arn:aws:iam::111122223333:role/x',
  },
};

test('format parquet: recommendations.parquet, or with partitionBy a folder (s3 parts allowed)', () => {
  const one = resolvePipeline({ ...base, output: { dir: 'o', format: 'parquet' } }, '/p/p.json');
  assert.equal(one.output.file, join('/p', 'o', 'recommendations.parquet'));
  const wide = resolvePipeline({ ...base, output: { dir: 'o', format: 'parquet-wide' } }, '/p/p.json');
  assert.equal(wide.output.file, join('/p', 'o', 'recommendations.parquet'));
  assert.equal(wide.output.format, 'parquet-wide');
  const lake = resolvePipeline(
    {
      ...base,
      output: {
        dir: 's3://lake/x/',
        format: 'parquet',
        partitionBy: { run_date: '2026-12-06' },
        maxFileSize: '256MB',
      },
    },
    '/p/p.json',
  );
  assert.equal(lake.output.file, 's3://lake/x/recommendations');
  assert.deepEqual(lake.output.partitionBy, { run_date: '2026-12-06' });
  assert.equal(lake.output.maxFileSize, 256_000_000);
});

test('partitionBy needs format parquet; bad names and CSV-only fields are refused', () => {
  throwsWith(
    () => resolvePipeline({ ...base, output: { dir: 'o', partitionBy: { d: '1' } } }, 'p.json'),
    'PB_USAGE',
    /\$\.output\.partitionBy: writes Parquet partition folders: needs format parquet/,
  );
  throwsWith(
    () =>
      resolvePipeline(
        { ...base, output: { dir: 'o', format: 'parquet', partitionBy: { d: 'a/b' } } },
        'p.json',
      ),
    'PB_USAGE',
    /partitionBy/,
  );
  throwsWith(
    () => resolvePipeline({ ...base, output: { dir: 'o', format: 'parquet', bom: true } }, 'p.json'),
    'PB_USAGE',
    /\$\.output\.bom: not with format parquet/,
  );
});
