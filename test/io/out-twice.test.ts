import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { expandOutSources } from '../../src/io/out-reader.js';
import { cli, rejectsWith, useTmp } from '../helpers.js';

const tmp = useTmp();

const line = (u: string) =>
  `${JSON.stringify({ input: { userId: u }, output: { recommendedItems: ['i1'] }, error: null })}\n`;

describe('one output reached twice', () => {
  test('the same file twice, through a folder or a link, and X.out beside X.out.gz are refused by export, report and collect', async () => {
    const dir = tmp.fresh('twice');
    await mkdir(join(dir, 'sub'), { recursive: true });
    await writeFile(join(dir, 'a.out'), line('663'));
    await writeFile(join(dir, 'sub', 'b.out'), line('9999'));
    await writeFile(join(dir, 'sub', 'b.out.gz'), gzipSync(line('9999')));
    // Names that only look alike are different outputs.
    const alike = tmp.fresh('alike');
    await mkdir(alike);
    for (const n of ['b.out', 'b.gz.out', 'bb.out.gz', 'b.out.gz.out'])
      await writeFile(join(alike, n), line(n));
    assert.equal((await expandOutSources([alike])).length, 4);
    const a = join(dir, 'a.out');
    const link = join(tmp.fresh('link'), 'c.out');
    await mkdir(join(link, '..'));
    await symlink(a, link);
    const gz = /sub\/b\.out\.gz is \S*sub\/b\.out gzipped \(gzip -k keeps both\): .*delete or move one/;
    const cases: [string[], RegExp][] = [
      [[dir], gz],
      [[join(dir, 'sub', 'b.out'), join(dir, 'sub', 'b.out.gz')], gz],
      [
        [a, a],
        /a\.out is read twice: each of its keys would count twice; give each \.out file, folder or prefix once/,
      ],
      [[a, dir], /a\.out is read twice/],
      [[a, link], /c\.out is read twice \(\S*a\.out is the same file\)/],
    ];
    for (const [sources, message] of cases) {
      await rejectsWith(expandOutSources(sources), 'PB_USAGE', message);
      for (const cmd of [
        ['export', ...sources, '-o', join(dir, 'x.csv')],
        ['report', ...sources, '-o', join(dir, 'x.html')],
        ['collect', ...sources, '-o', join(dir, 'x.jsonl')],
      ]) {
        const r = await cli(cmd);
        assert.equal(r.code, 2, `${cmd.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, message, cmd[0]);
      }
    }
    // Each once: read.
    const ok = await cli(['export', a, join(dir, 'sub', 'b.out'), '-o', join(dir, 'ok.csv')]);
    assert.equal(ok.code, 0, ok.stderr);
  });
});
