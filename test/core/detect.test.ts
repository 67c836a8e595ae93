/**
 * The detection core on its own, with no streams: the delimiter and header
 * rules, JSON layouts, file signatures, UTF-8 checking across chunk
 * boundaries (against isUtf8 on the whole), decoding (the windows-1252
 * table against the WHATWG index), strict timestamps.
 */
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, test } from 'node:test';
import { parseSince, parseTimestamp, readTimestamp } from '../../src/core/dates.js';
import { firstInvalid, Transcoder, Utf8Check } from '../../src/core/encoding.js';
import {
  CLI_OPTION_NAMES,
  jsonLayout,
  oneColumnHasHeader,
  parseDelimiter,
  sepLineOf,
  sniffBinary,
  sniffBom,
  sniffDelimiter,
  sniffNul,
} from '../../src/core/sniff.js';
import { prng, throwsWith } from '../helpers.js';

const N = CLI_OPTION_NAMES;
const sniff = (text: string, ended = true) => sniffDelimiter(text, ended, 'f', N);

describe('the delimiter rule', () => {
  test('the candidate that splits every sampled line evenly wins', () => {
    assert.deepEqual(sniff('Email;Customer ID;First name\na@x.de;1;Anna\n'), {
      delimiter: ';',
      sepLine: false,
    });
    assert.equal(sniff('user_id\tnote\nu1\ta,b\nu2\tc\n').delimiter, '\t', 'commas inside TSV values');
    assert.equal(sniff('user_id,genres\nu1,a|b\nu2,c|d\n').delimiter, ',', 'pipes inside values');
    assert.equal(sniff('id|name\n1|"a|b"\n').delimiter, '|', 'quoted delimiters are one field');
    assert.equal(sniff('a;b\n"x\ny";z\n').delimiter, ';', 'a quoted line break');
    assert.equal(sniff('Email;Customer ID;First name\n').delimiter, ';', 'a header alone');
  });

  test('trailing delimiters: extra empty fields fit, and so do rows missing unnamed ones', () => {
    assert.equal(sniff('user_id;name\nu1;Anna;\nu2;Bob;;\n').delimiter, ';');
    assert.equal(sniff('user_id;name;\nu1;Anna\nu2;Bob;\n').delimiter, ';');
  });

  test('Excel sep= line names it', () => {
    assert.deepEqual(sniff('sep=;\nA;B\n1;2\n'), { delimiter: ';', sepLine: true });
    assert.deepEqual(sniff('sep=\t\nA\tB\n'), { delimiter: '\t', sepLine: true });
    assert.equal(sepLineOf('"sep=,"'), ',');
    assert.equal(sepLineOf('sep=a'), null, 'a letter cannot be a delimiter');
    assert.equal(sepLineOf('separator'), null);
  });

  test('a tie is a usage error naming --delimiter', () => {
    throwsWith(() => sniff('a,b;c\n1,2;3\n'), 'PB_USAGE', /"," and ";" each split .*pass --delimiter/);
  });

  test('one column when nothing splits any line', () => {
    assert.equal(sniff('u1\nu2\nanna@example.de\n').delimiter, null);
  });

  test('no winner: the only candidate splitting the header, when most rows fit it, with a warning', () => {
    const rows = [
      'user_id,email',
      ...Array.from({ length: 9 }, (_, i) => `u${i},x${i}@example.com`),
      'broken',
    ];
    const d = sniff(`${rows.join('\n')}\n`);
    assert.equal(d.delimiter, ',');
    assert.equal(
      d.warning,
      `1 of the first 10 rows do not have the header's 2 fields by "," (the first: line 11, with 1); rows like these are rejected`,
    );
  });

  test('no winner otherwise: a usage error naming the line that breaks it and the fixes', () => {
    throwsWith(
      () => sniff('Doe, John\nanna\nbob\ncleo\n'),
      'PB_USAGE',
      /none of , ; TAB \| splits .*by "," the header has 2 fields but line 2 has 1; pass --delimiter .* or --format plain/,
    );
  });

  test('only complete lines count while more is coming', () => {
    assert.equal(sniff('a;b\n1;2\n3', false).delimiter, ';');
  });

  test('--delimiter values', () => {
    assert.equal(parseDelimiter('tab', '--delimiter'), '\t');
    assert.equal(parseDelimiter('\\t', '--delimiter'), '\t');
    assert.equal(parseDelimiter('semicolon', '--delimiter'), ';');
    assert.equal(parseDelimiter('|', '--delimiter'), '|');
    throwsWith(() => parseDelimiter('ab', '--delimiter'), 'PB_USAGE', /--delimiter must be one character/);
    throwsWith(() => parseDelimiter('"', '--delimiter'), 'PB_USAGE');
    throwsWith(() => parseDelimiter('x', '--delimiter'), 'PB_USAGE');
  });
});

describe('the one-column header rule', () => {
  const has = (text: string, column?: string) => oneColumnHasHeader(text, true, column, 'f', N);

  test('usual names, compared without case, spaces or underscores', () => {
    for (const h of [
      'customer_id',
      'Customer ID',
      'CUSTOMERID',
      'sku',
      'Email',
      'E-Mail',
      'user_id',
      'ITEM_ID',
      'id',
    ])
      assert.equal(has(`${h}\n1\n2\n`), true, h);
    assert.equal(has('"user_id"\nu1\n'), true, 'quoted');
  });

  test('ids, and names over names, are a list with no header', () => {
    assert.equal(has('10001\n10002\n'), false);
    assert.equal(has('alice\nbob\n'), false);
    assert.equal(has('ITEMS.genre = "Comedy"\nITEMS.year = "2020"\n'), false, 'a query is not a name');
  });

  test('the --column given is the header; a first line that is not it is refused', () => {
    assert.equal(has('Kundennummer\n1\n', 'kundennummer'), true);
    throwsWith(
      () => has('10001\n10002\n', 'user_id'),
      'PB_USAGE',
      /first line "10001" is not that name; leave out --column/,
    );
  });

  test('an unknown name over numbered or e-mail ids is refused as ambiguous', () => {
    throwsWith(
      () => has('Kundennummer\n10001\n'),
      'PB_USAGE',
      /"Kundennummer" looks like a header .*--column "Kundennummer".*--format plain/,
    );
    throwsWith(() => has('Mail address\nanna@example.de\n'), 'PB_USAGE', /looks like a header/);
  });
});

describe('JSON layouts', () => {
  test('as the first line shows them', () => {
    assert.equal(jsonLayout('{"userId":"1"}'), 'lines');
    assert.equal(jsonLayout('{"userId": "4638"} {"userId": "663"}'), 'packed');
    assert.equal(jsonLayout('{"a":"}{"} {"b":1}'), 'packed', 'braces inside strings do not count');
    assert.equal(jsonLayout('{"a":"\\"}"}'), 'lines', 'escaped quotes');
    assert.equal(jsonLayout('{'), 'spread');
    assert.equal(jsonLayout('{"a": ['), 'spread');
    assert.equal(jsonLayout('[{"userId":"1"}]'), 'array');
    assert.equal(
      jsonLayout('{"a":1} x'),
      'lines',
      'junk after a value: a broken line, reported by the row reader',
    );
  });
});

describe('file signatures', () => {
  const bytes = (...xs: (number | string)[]) =>
    Buffer.concat(xs.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from([x]))));

  test('office files, archives, documents, other compressions', () => {
    const what = (b: Buffer) => sniffBinary(b)?.what;
    assert.match(
      what(bytes('PK', 3, 4, '....[Content_Types].xml....xl/workbook.xml')) as string,
      /Excel workbook \(\.xlsx\)/,
    );
    assert.match(
      what(bytes('PK', 3, 4, 'mimetypeapplication/vnd.oasis.opendocument.spreadsheet')) as string,
      /\.ods/,
    );
    assert.match(what(bytes('PK', 3, 4, 'users.csv')) as string, /zip archive/);
    assert.match(what(bytes(0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1)) as string, /\.xls/);
    assert.match(what(bytes('%PDF-1.7')) as string, /PDF/);
    assert.match(what(bytes('PAR1')) as string, /Parquet/);
    assert.match(what(bytes('BZh91AY&SY')) as string, /bzip2/);
    assert.match(what(bytes(0xfd, '7zXZ', 0)) as string, /xz/);
    assert.match(what(bytes(0x28, 0xb5, 0x2f, 0xfd)) as string, /zstd/);
    assert.match(what(bytes(0xff, 0xfe, 0, 0)) as string, /UTF-32/);
    assert.equal(sniffBinary(bytes('BZh is a fine id\n')), null, 'a signature needs all its bytes');
    assert.equal(sniffBinary(bytes('user_id\nPK\n')), null);
  });

  test('byte order marks and NUL bytes', () => {
    assert.deepEqual(sniffBom(bytes(0xef, 0xbb, 0xbf, 'a')), { encoding: 'utf-8', length: 3 });
    assert.deepEqual(sniffBom(bytes(0xff, 0xfe, 'a', 0)), { encoding: 'utf-16le', length: 2 });
    assert.deepEqual(sniffBom(bytes(0xfe, 0xff, 0, 'a')), { encoding: 'utf-16be', length: 2 });
    assert.equal(sniffBom(bytes('abc')), null);
    assert.equal(sniffNul(Buffer.from('user_id\nu1\n', 'utf16le'))?.utf16, 'utf-16le');
    assert.equal(sniffNul(Buffer.from('user_id\nu1\n', 'utf16le').subarray(1))?.utf16, 'utf-16be');
    assert.deepEqual(sniffNul(bytes('ab', 0, 0, 0, 'cdef', 0)), { utf16: null, offset: 2 });
    assert.equal(sniffNul(bytes('plain text\n')), null);
  });
});

describe('UTF-8 across chunk boundaries', () => {
  test('Utf8Check agrees with isUtf8 on the whole, for every chunking of random bytes', () => {
    const rand = prng(42);
    const pieces = ['a', '\n', 'ü', '€', '𝄞', '李', '\uFFFD'].map((s) => Buffer.from(s));
    const junk = [
      [0xfc],
      [0x80],
      [0xc3],
      [0xe2, 0x82],
      [0xf0, 0x9d],
      [0xed, 0xa0, 0x80],
      [0xc0, 0xaf],
      [0xf5, 0x80, 0x80, 0x80],
    ];
    for (let round = 0; round < 400; round++) {
      const parts: Buffer[] = [];
      for (let i = 0, n = 1 + Math.floor(rand() * 12); i < n; i++)
        parts.push(
          rand() < 0.1
            ? Buffer.from(junk[Math.floor(rand() * junk.length)] as number[])
            : (pieces[Math.floor(rand() * pieces.length)] as Buffer),
        );
      const whole = Buffer.concat(parts);
      const check = new Utf8Check();
      let failedAt = -1;
      for (let p = 0; p < whole.length && failedAt < 0; ) {
        const size = 1 + Math.floor(rand() * 4);
        const bad = check.push(whole.subarray(p, p + size));
        if (bad >= 0) failedAt = p + bad;
        p += size;
      }
      const ok = failedAt < 0 && !check.truncated;
      assert.equal(ok, isUtf8(whole), whole.toString('hex'));
      if (!ok && failedAt >= 0) {
        // The fault is reported at, or (a character cut by the chunk) just before, the first bad byte.
        const first = firstInvalid(whole);
        assert.ok(
          failedAt <= first + 3 && failedAt >= first - 3,
          `${failedAt} vs ${first} in ${whole.toString('hex')}`,
        );
      }
    }
  });

  test('firstInvalid finds the byte TextDecoder would reject first', () => {
    assert.equal(firstInvalid(Buffer.from([0x61, 0x62, 0xfc, 0x63])), 2);
    assert.equal(firstInvalid(Buffer.concat([Buffer.from('jü'), Buffer.from([0xe2, 0x82])])), 3);
    assert.equal(firstInvalid(Buffer.from([0xed, 0xa0, 0x80])), 0, 'a surrogate');
  });
});

describe('decoding', () => {
  test('windows-1252 0x80-0x9F are the WHATWG characters, whatever Node does', () => {
    const t = new Transcoder('windows-1252');
    const high = t.push(Uint8Array.from({ length: 32 }, (_, i) => 0x80 + i)) + t.end();
    assert.equal(high, '€\u0081‚ƒ„…†‡ˆ‰Š‹Œ\u008dŽ\u008f\u0090‘’“”•–—˜™š›œ\u009džŸ');
    assert.equal(
      new Transcoder('latin1').push(Buffer.from([0x80, 0xfc])),
      '€ü',
      'latin1 is windows-1252 by WHATWG',
    );
    assert.equal(new Transcoder('iso-8859-15').push(Buffer.from([0xa4])), '€');
  });

  test('UTF-16 split inside a character and between surrogates', () => {
    const bytes = Buffer.from('a𝄞ü\n', 'utf16le');
    for (let cut = 1; cut < bytes.length; cut++) {
      const t = new Transcoder('utf-16le');
      assert.equal(
        t.push(bytes.subarray(0, cut)) + t.push(bytes.subarray(cut)) + t.end(),
        'a𝄞ü\n',
        String(cut),
      );
    }
    const lone = new Transcoder('utf-16le');
    assert.throws(
      () => lone.push(Buffer.from([0x3d, 0xd8, 0x61, 0x00])) + lone.end(),
      'a lone surrogate is fatal',
    );
  });
});

describe('timestamps', () => {
  test('epoch seconds, milliseconds and ISO 8601; UTC without an offset', () => {
    assert.equal(parseTimestamp(1767571200), 1767571200);
    assert.equal(parseTimestamp('1767571200000'), 1767571200);
    assert.equal(parseTimestamp(' 1767571200.5 '), 1767571200.5);
    assert.equal(parseTimestamp('2026-01-05'), 1767571200);
    assert.equal(parseTimestamp('2026-01-05T10:00'), 1767571200 + 36000);
    assert.equal(parseTimestamp('2026-01-05T10:00:00Z'), 1767571200 + 36000);
    assert.equal(parseTimestamp('2026-01-05 10:00:00+02:00'), 1767571200 + 28800);
    assert.equal(parseTimestamp('2026-01-05T10:00:00.250-0130'), 1767571200 + 36000 + 5400 + 0.25);
  });

  test('anything else is refused, impossible dates included', () => {
    for (const v of [
      '05.01.2026',
      '05.01.2026 10:00',
      'March 7 2026',
      '01/05/2026',
      '2026-02-30',
      '2026-13-01',
      '2026-01-05T24:00',
      '2026-1-5',
      'yesterday',
      '',
      true,
      null,
      Number.NaN,
    ])
      assert.equal(parseTimestamp(v), undefined, String(v));
  });

  test('--since says what to write instead', () => {
    assert.deepEqual(parseSince('2026-01-05'), { seconds: 1767571200 });
    assert.match(
      (parseSince('05.01.2026') as { problem: string }).problem,
      /\(day\.month\.year\? write 2026-01-05\)$/,
    );
    assert.match(
      (parseSince('01/05/2026') as { problem: string }).problem,
      /write 2026-01-05 if it is month\/day, 2026-05-01 if day\/month/,
    );
    assert.match(
      (parseSince('20260105') as { problem: string }).problem,
      /could be the date 2026-01-05 or epoch seconds in 1970/,
    );
  });

  test('a time cell in a local date form says what to write instead (interactions: --map-users rejects, prepare)', () => {
    const problem = (v: string) => (readTimestamp(v) as { problem: string }).problem;
    assert.match(problem('03.11.2026'), /is not a timestamp: use .*\(day\.month\.year\? write 2026-11-03\)$/);
    assert.match(problem(' 3.11.2026 14:05'), /\(day\.month\.year\? write 2026-11-03\)$/);
    assert.match(problem('11/03/2026'), /write 2026-11-03 if it is month\/day, 2026-03-11 if day\/month\)$/);
    assert.doesNotMatch(problem('yesterday'), /write/);
    assert.doesNotMatch(problem(''), /write/);
  });
});
