/**
 * The same bytes, cut at every possible kind of boundary (1 byte, 2 bytes,
 * 3 bytes, seeded random sizes), must give the same output, summary counts
 * and error positions as the unsplit input: chunk edges can fall inside a
 * multi-byte character, a BOM, a CRLF pair, or a quoted CSV field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { PrepareOptions } from '../../../src/stages/prepare/index.js';
import { type PrepareResult, prepareStdin, rejectsWith, split } from '../../helpers.js';

const SPLITS: (number | { seed: number; max: number })[] = [
  1,
  2,
  3,
  7,
  { seed: 1, max: 5 },
  { seed: 2, max: 17 },
  { seed: 3, max: 64 },
  { seed: 4, max: 300 },
];

function label(how: number | { seed: number; max: number }): string {
  return typeof how === 'number' ? `${how}-byte chunks` : `random chunks (seed ${how.seed}, max ${how.max})`;
}

type Opts = Omit<PrepareOptions, 'stdin' | 'stdout' | 'sources' | 'output'>;

/** Runs the whole input once, then every split, and asserts the same output and counts. */
async function sameForEverySplit(opts: Opts, input: Buffer): Promise<PrepareResult> {
  const whole = await prepareStdin(opts, input);
  for (const how of SPLITS) {
    const r = await prepareStdin(opts, split(input, how));
    assert.equal(r.out, whole.out, label(how));
    const { seconds: _a, ...rest } = r.summary;
    const { seconds: _b, ...wholeRest } = whole.summary;
    assert.deepEqual(rest, wholeRest, label(how));
  }
  return whole;
}

// A Mailchimp-style export: BOM, CRLF, quoted fields holding commas, doubled
// quotes and line breaks, a stray quote inside an unquoted e-mail, blank lines,
// and ids in 2-, 3- and 4-byte UTF-8.
const EMAIL_CSV = [
  '\uFEFFemail,user_id,first_name',
  '"smith, anna@example.com",é1,"Anna ""the boss"""',
  'jo@example.com,日本,"two',
  'line name"',
  '',
  'o"neil@example.com,😀u,Pat',
  '   ',
  '"x@example.com",  padded  ,"a,b,c"',
  'zoë@example.com,Zoë-ß,"multi',
  '',
  'blank inside"',
  '',
  '',
].join('\r\n');

describe('re-chunked stdin gives identical results', () => {
  test('CSV with BOM, CRLF, quoted commas/quotes/newlines, multi-byte ids and blank lines', async () => {
    const r = await sameForEverySplit(
      { recipe: 'user-personalization', filters: ['NAME=first_name'], valueSeparator: ';' },
      Buffer.from(EMAIL_CSV),
    );
    assert.deepEqual(r.records, [
      { userId: 'é1', filterValues: { NAME: '"Anna \\"the boss\\""' } },
      { userId: '日本', filterValues: { NAME: '"two\r\nline name"' } },
      { userId: '😀u', filterValues: { NAME: '"Pat"' } },
      { userId: 'padded', filterValues: { NAME: '"a,b,c"' } },
      { userId: 'Zoë-ß', filterValues: { NAME: '"multi\r\n\r\nblank inside"' } },
    ]);
    assert.equal(r.summary.recordsRead, 5);
    // The empty line inside the quoted field is data, not a blank line; the other three are.
    assert.equal(r.summary.blankLines, 3);
    assert.equal(r.summary.bytesRead, Buffer.byteLength(EMAIL_CSV));
  });

  test('plain ids with BOM, CRLF, blank and whitespace-only lines', async () => {
    const input = '\uFEFFé1\r\n\r\n日本\r\n  \r\n😀u\n\n  spaced  \r\nlast-no-newline';
    const r = await sameForEverySplit({ recipe: 'user-personalization' }, Buffer.from(input));
    assert.deepEqual(
      r.records.map((x) => x.userId),
      ['é1', '日本', '😀u', 'spaced', 'last-no-newline'],
    );
    assert.equal(r.summary.blankLines, 3);
  });

  test('JSON Lines with BOM, CRLF, escaped and raw multi-byte strings', async () => {
    const input = [
      '\uFEFF{"uid":"é1","genre":["a","b"]}',
      '',
      '{"uid":"\\u65e5\\u672c","genre":"x|y"}',
      '{"uid":"😀u","genre":"q\\"uote"}',
      '',
    ].join('\r\n');
    const r = await sameForEverySplit(
      { recipe: 'user-personalization', column: 'uid', filters: ['G=genre'] },
      Buffer.from(input),
    );
    assert.deepEqual(r.records, [
      { userId: 'é1', filterValues: { G: '"a","b"' } },
      { userId: '日本', filterValues: { G: '"x","y"' } },
      { userId: '😀u', filterValues: { G: '"q\\"uote"' } },
    ]);
    assert.equal(r.summary.blankLines, 1);
  });

  test('TSV with quoted tabs and CRLF', async () => {
    const input = 'USER_ID\tNOTE\r\nü1\t"a\tb"\r\n\r\n日本\tplain\r\n';
    const r = await sameForEverySplit({ recipe: 'user-personalization' }, Buffer.from(input));
    assert.deepEqual(
      r.records.map((x) => x.userId),
      ['ü1', '日本'],
    );
    assert.equal(r.summary.blankLines, 1);
  });

  test('gzip input split inside the magic bytes and the deflate stream', async () => {
    const gz = gzipSync(Buffer.from(EMAIL_CSV));
    const r = await sameForEverySplit({ recipe: 'user-personalization' }, gz);
    assert.deepEqual(
      r.records.map((x) => x.userId),
      ['é1', '日本', '😀u', 'padded', 'Zoë-ß'],
    );
    assert.equal(r.summary.blankLines, 3);
  });

  test('error positions do not depend on chunking (record after a multi-line field and blank lines)', async () => {
    const input = Buffer.from(
      'email,user_id,name\r\na@x,é1,"two\r\nlines\r\nhere"\r\n\r\n\r\nb@x,,empty-id\r\nc@x,u3,ok\r\n',
    );
    for (const how of [undefined, ...SPLITS]) {
      const chunks = how === undefined ? input : split(input, how);
      const err = await rejectsWith(
        prepareStdin({ recipe: 'user-personalization' }, chunks),
        'PB_INVALID_RECORD',
      );
      assert.equal(err.line, 7, how === undefined ? 'whole' : label(how));
      assert.equal(err.file, '-');
      assert.match(err.message, /^-:7: user_id: empty$/);
    }
  });
});
