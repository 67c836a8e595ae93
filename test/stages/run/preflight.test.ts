import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { resolvePipeline } from '../../../src/stages/run/pipeline.js';
import { preflight } from '../../../src/stages/run/preflight.js';
import { rejectsWith, useTmp } from '../../helpers.js';

// output.rename is checked before any job: a column no export of the pipeline can have is refused
// there; one the sources may or may not give (score_1, item_4) is the export's to write.

const tmp = useTmp();

async function pipeline(output: Record<string, unknown>, numResults?: number) {
  const source = tmp.fresh('users.csv');
  await writeFile(source, 'userId,Email,First Name\nu1,a@x,A\nu2,b@x,B\n');
  return resolvePipeline(
    {
      version: 1,
      recipe: 'user-personalization',
      input: { sources: [source] },
      work: 's3://bucket/x/',
      jobs: {
        solutionVersionArn: 'arn:aws:personalize:us-east-1:111122223333:solution/x/1',
        roleArn: 'arn:aws:iam::111122223333:role/x',
        ...(numResults !== undefined && { numResults }),
      },
      output: { dir: tmp.fresh('out'), users: source, userFields: ['Email', 'First Name'], ...output },
    },
    'p.json',
  );
}

test('output.rename: a column no export can have is refused before any job; the ones that may come pass', async () => {
  const wide = {
    format: 'csv-wide',
    rename: { userId: 'external_id', item_4: 'rec_4', score_1: 's1', Email: 'E' },
  };
  await preflight(await pipeline(wide, 5));
  await preflight(await pipeline({ format: 'csv-long', rename: { score: 'rec_score', reason: 'why' } }));
  await rejectsWith(
    preflight(await pipeline({ ...wide, rename: { Emial: 'E', item_6: 'x' } }, 5)),
    'PB_USAGE',
    /^\$\.output\.rename: no csv-wide export of this pipeline has a column "Emial", "item_6" \(did you mean "?Email"?\?\); its columns can be userId, theme, item_N, score_N, reason_N, Email, First Name, .* \(N from 1 to 5\)$/,
  );
  // output.top bounds the numbered columns before numResults does; csv-long has no numbered ones.
  await rejectsWith(preflight(await pipeline({ ...wide, top: 3 }, 5)), 'PB_USAGE', /has a column "item_4"/);
  await rejectsWith(
    preflight(await pipeline({ format: 'csv-long', rename: { score_1: 'x' } })),
    'PB_USAGE',
    /no csv-long export of this pipeline has a column "score_1" \(did you mean score\?\)/,
  );
});
