/**
 * The real-world corpus (test/fixtures/real-world/, written by
 * scripts/real-world-fixtures.mjs): every file is read right or refused
 * with the fix named, through each command that reads that kind of file.
 * prepare reads them all (also from stdin in 1-byte and random pieces);
 * validate reads batch input and names prepare for anything else; export
 * --catalog reads catalogs.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { PbErrorCode } from '../../../src/errors.js';
import { exportOutputs } from '../../../src/stages/export/index.js';
import type { InputDetection } from '../../../src/stages/prepare/index.js';
import { type PrepareOptions, prepare } from '../../../src/stages/prepare/index.js';
import { validateFiles } from '../../../src/stages/validate/index.js';
import {
  cli,
  makeTmp,
  prepareFiles,
  prepareStdin,
  readText,
  rejectsWith,
  split,
  writeText,
} from '../../helpers.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'real-world');
const at = (name: string) => join(DIR, name);

interface Case {
  file: string;
  recipe?: string;
  options?: Partial<PrepareOptions>;
  /** The exact records written. */
  records?: Record<string, unknown>[];
  /** Or the exact refusal (about the file, unless `option`: a bad option value names no file). */
  error?: { code: PbErrorCode; line?: number; message: RegExp; option?: true };
  detected?: Partial<InputDetection>;
  warnings?: RegExp[];
}

const ids = (...xs: string[]) => xs.map((userId) => ({ userId }));

const CASES: Case[] = [
  // Excel in a German locale: windows-1252, semicolons, a quoted field with ; and a line break.
  {
    file: 'excel-de-semicolon-windows-1252.csv',
    error: {
      code: 'PB_PARSE',
      line: 2,
      message:
        /:2: not UTF-8: byte 0xFC .*--encoding windows-1252 reads \(this line as "10001;anna\.mueller@example\.de;Anna;Müller;Ja;05\.01\.1990"\)/,
    },
  },
  {
    file: 'excel-de-semicolon-windows-1252.csv',
    options: { encoding: 'windows-1252' },
    error: {
      code: 'PB_USAGE',
      message: /cannot find the user id column; the header has "Kunden-Nr", "E-Mail"/,
    },
  },
  {
    file: 'excel-de-semicolon-windows-1252.csv',
    options: { encoding: 'windows-1252', column: 'Kunden-Nr' },
    records: ids('10001', '10002', '10003'),
    detected: {
      format: 'csv',
      delimiter: ';',
      delimiterFrom: 'detected',
      encoding: 'windows-1252',
      encodingFrom: 'option',
      idColumn: 'Kunden-Nr',
    },
  },
  {
    file: 'excel-de-semicolon-windows-1252.csv',
    options: { encoding: 'windows-1252', column: 'E-Mail' },
    error: {
      code: 'PB_INVALID_RECORD',
      line: 2,
      message:
        /:2: E-Mail: looks like an e-mail address; pick the id column with --column, or allow them with --allow-email-ids/,
    },
  },
  {
    file: 'excel-de-semicolon-windows-1252.csv',
    options: { encoding: 'windows-1252', column: 'Nachname' },
    // A multi-line cell as the id: refused, not sent with its line break.
    error: {
      code: 'PB_INVALID_RECORD',
      line: 3,
      message: /:3: Nachname: contains a line break \(a multi-line cell\?\)/,
    },
  },
  {
    file: 'excel-de-csv-utf8-bom.csv',
    options: { column: 'kunden nr' },
    records: ids('10001', '10002', '10003'),
    detected: { delimiter: ';', encoding: 'utf-8', encodingFrom: 'bom', idColumn: 'Kunden-Nr' },
  },
  {
    file: 'excel-sep-line.csv',
    records: ids('501', '502'),
    detected: { delimiter: ';', delimiterFrom: 'sep-line', columns: ['Customer ID', 'Email', 'Country'] },
  },
  {
    file: 'excel-unicode-text.txt',
    records: ids('u-1', 'u-2', 'u-3'),
    detected: { format: 'tsv', delimiter: '\t', encoding: 'utf-16le', encodingFrom: 'bom' },
  },
  {
    file: 'excel-unicode-text.txt',
    options: { column: 'name' },
    records: ids('Zoë', '李雷', 'Łukasz'),
  },
  { file: 'utf-16be-bom.csv', options: { column: 'name' }, records: ids('Åsa', 'Øystein') },
  {
    file: 'utf-16le-no-bom.txt',
    error: {
      code: 'PB_PARSE',
      message: /looks like UTF-16 LE text without a byte order mark.*pass --encoding utf-16le$/,
    },
  },
  { file: 'utf-16le-no-bom.txt', options: { encoding: 'utf-16le' }, records: ids('u1', 'u2') },
  {
    file: 'windows-1252-c1-bytes.csv',
    recipe: 'related-items',
    error: { code: 'PB_PARSE', line: 2, message: /byte 0x80 .*reads \(this line as "A-1;Preis 5€"\)/ },
  },
  {
    file: 'windows-1252-c1-bytes.csv',
    recipe: 'related-items',
    options: { encoding: 'windows-1252', column: 'title' },
    // Bytes 0x80-0x9F are the euro sign, quotes, dash and trade mark, not C1 controls.
    records: ['Preis 5€', '„Beste Wahl“', 'Tom’s Tasse – groß', 'Marke™'].map((itemId) => ({ itemId })),
  },
  // One-column lists: a usual name (or the --column given) is a header.
  {
    file: 'one-column-customer_id.csv',
    records: ids('10001', '10002', '10003'),
    detected: { format: 'csv', columns: ['customer_id'] },
  },
  { file: 'one-column-Customer-ID.csv', records: ids('10001', '10002') },
  {
    file: 'one-column-sku.csv',
    recipe: 'related-items',
    records: [{ itemId: 'SKU-1' }, { itemId: 'SKU-2' }],
  },
  {
    file: 'one-column-sku.csv',
    error: {
      code: 'PB_USAGE',
      message: /cannot find the user id column; the header has "sku": name it with --column/,
    },
  },
  {
    file: 'one-column-Email.csv',
    error: { code: 'PB_USAGE', message: /cannot find the user id column; the header has "Email"/ },
  },
  {
    file: 'one-column-Email.csv',
    options: { column: 'Email' },
    error: { code: 'PB_INVALID_RECORD', line: 2, message: /:2: Email: looks like an e-mail address/ },
  },
  {
    file: 'one-column-Email.csv',
    options: { column: 'Email', allowEmailIds: true },
    records: ids('anna@example.de', 'bob@example.com'),
  },
  {
    file: 'one-column-no-header.txt',
    records: ids('10001', '10002', '10003'),
    detected: { format: 'plain' },
  },
  {
    file: 'one-column-unknown-header.txt',
    error: {
      code: 'PB_USAGE',
      line: 1,
      message:
        /"Kundennummer" looks like a header over the ids below it.*--column "Kundennummer".*--format plain/,
    },
  },
  {
    file: 'one-column-unknown-header.txt',
    options: { column: 'Kundennummer' },
    records: ids('10001', '10002'),
  },
  {
    file: 'one-column-unknown-header.txt',
    options: { format: 'plain' },
    records: ids('Kundennummer', '10001', '10002'),
  },
  {
    file: 'emails-only.txt',
    error: { code: 'PB_INVALID_RECORD', line: 1, message: /:1: userId: looks like an e-mail address/ },
  },
  // Files that are not text are named.
  {
    file: 'workbook.xlsx',
    error: {
      code: 'PB_PARSE',
      message: /this is an Excel workbook \(\.xlsx\), not a text file: .*save it as "CSV UTF-8"/,
    },
  },
  {
    file: 'workbook-saved-as.csv',
    error: { code: 'PB_PARSE', message: /this is an Excel workbook \(\.xlsx\)/ },
  },
  { file: 'archive.zip', error: { code: 'PB_PARSE', message: /this is a zip archive/ } },
  { file: 'report.pdf', error: { code: 'PB_PARSE', message: /this is a PDF document/ } },
  { file: 'old-excel.xls', error: { code: 'PB_PARSE', message: /an Excel 97-2003 workbook \(\.xls\)/ } },
  { file: 'gzip-under-csv-name.csv', records: ids('u1', 'u2'), detected: { gzip: true, format: 'csv' } },
  // Dates strictly.
  {
    file: 'interactions-mixed-dates.csv',
    options: { since: '2026-01-01' },
    error: {
      code: 'PB_INVALID_RECORD',
      line: 6,
      message: /:6: TIMESTAMP: "05\.01\.2026 10:00" is not a timestamp: use epoch seconds/,
    },
  },
  {
    file: 'interactions-mixed-dates.csv',
    options: { since: '05.01.2026' },
    error: {
      code: 'PB_USAGE',
      message: /^--since must be .*got "05\.01\.2026" \(day\.month\.year\? write 2026-01-05\)$/,
      option: true,
    },
  },
  // JSON as the AWS docs print it.
  {
    file: 'aws-docs-objects-on-one-line.json',
    records: ids('4638', '663', '3384'),
    detected: { format: 'json', jsonLayout: 'packed' },
  },
  {
    file: 'aws-docs-popularity-count.json',
    recipe: 'popular-items',
    records: [{}, { itemId: '105' }, { itemId: '41' }],
    warnings: [/3 Popularity-Count lines have no userId/],
  },
  {
    file: 'aws-docs-popularity-count.json',
    error: {
      code: 'PB_USAGE',
      message: /the first record has no fields at all; name the column with --column/,
    },
  },
  { file: 'json-array.json', records: ids('u1', 'u2'), detected: { format: 'json', jsonLayout: 'array' } },
  { file: 'json-array-of-ids.json', records: ids('u1', 'u2', 'u3') },
  {
    file: 'json-array-bom.json',
    records: ids('u1', 'u2'),
    detected: { format: 'json', jsonLayout: 'array' },
  },
  {
    file: 'json-pretty-objects.json',
    recipe: 'related-items',
    records: [{ itemId: 'i1' }, { itemId: 'i2' }],
  },
  // Small quirks.
  { file: 'bom-crlf.csv', records: ids('u1', 'u2') },
  { file: 'header-with-spaces.csv', records: ids('501', '502'), detected: { idColumn: 'Customer ID' } },
  {
    file: 'duplicate-header.csv',
    error: { code: 'PB_USAGE', message: /the header has "user_id" 2 times \(columns 1 and 3\).*rename one/ },
  },
  { file: 'duplicate-header.csv', options: { column: 'name' }, records: ids('Anna', 'Bob') },
  { file: 'trailing-delimiters.csv', records: ids('u1', 'u2', 'u3'), detected: { delimiter: ';' } },
  { file: 'quoted-header.csv', records: ids('u1', 'u2'), detected: { idColumn: 'User ID' } },
  { file: 'empty.csv', records: [], warnings: [/no records written: the sources hold no data rows/] },
  { file: 'header-only.csv', records: [], warnings: [/no records written/] },
  {
    file: 'ambiguous-delimiter.csv',
    error: {
      code: 'PB_USAGE',
      message: /cannot tell the delimiter: "," and ";" each split .*pass --delimiter/,
    },
  },
  { file: 'ambiguous-delimiter.csv', options: { delimiter: ';', column: 'c' }, records: ids('3') },
  // CRM dumps.
  {
    file: 'shopify-customers.csv',
    records: ids('7012345678901', '7012345678902', '7012345678903'),
    detected: { idColumn: 'Customer ID' },
  },
  {
    file: 'mailchimp-audience.csv',
    error: {
      code: 'PB_USAGE',
      message: /cannot find the user id column; the header has "Email Address", .*"LEID", "EUID"/,
    },
  },
  { file: 'mailchimp-audience.csv', options: { column: 'LEID' }, records: ids('114582', '114583') },
  // What a new-user trial found read wrong, now read right or refused.
  { file: 'json-array-big-numbers.json', records: ids('12345678901234567890', '9007199254740993') },
  {
    file: 'interactions-yyyymmdd.csv',
    options: { since: '2020-01-01' },
    error: {
      code: 'PB_INVALID_RECORD',
      line: 3,
      message:
        /:3: TIMESTAMP: "20260105" could be the date 2026-01-05 or epoch seconds in 1970; write 2026-01-05/,
    },
  },
  {
    file: 'excel-damaged-ids.csv',
    error: {
      code: 'PB_INVALID_RECORD',
      line: 2,
      message:
        /:2: Customer ID: starts with ', the text marker a spreadsheet adds: the id is probably "6789012345"/,
    },
  },
  {
    file: 'concatenated-exports.csv',
    error: {
      code: 'PB_INVALID_RECORD',
      line: 4,
      message:
        /:4: \(row\): repeats the header \(files joined with cat\?\); pass each file as its own source/,
    },
  },
  {
    file: 'html-saved-as.xls',
    error: {
      code: 'PB_PARSE',
      message: /this is an HTML page \(a web page or an HTML table saved as \.xls\)/,
    },
  },
  {
    file: 'utf8-not-windows-1252.csv',
    options: { encoding: 'windows-1252' },
    error: {
      code: 'PB_PARSE',
      line: 2,
      message:
        /:2: is UTF-8 text \(this line reads "müller-1,x" as UTF-8\), though --encoding windows-1252 was given, which would garble it; leave out --encoding$/,
    },
  },
  { file: 'utf8-not-windows-1252.csv', records: ids('müller-1', 'weiß-2') },
  {
    file: 'one-column-username.csv',
    error: { code: 'PB_USAGE', line: 1, message: /"username" looks like a header over the ids below it/ },
  },
  { file: 'one-column-username.csv', options: { column: 'username' }, records: ids('alice', 'bob') },
  {
    file: 'spaces-aligned.txt',
    error: { code: 'PB_USAGE', message: /lined up with runs of spaces .*save the data as CSV or TSV/ },
  },
  {
    file: 'json-lines-trailing-commas.jsonl',
    error: {
      code: 'PB_PARSE',
      line: 1,
      message:
        /:1: not JSON Lines: not valid JSON \(.*\); JSON Lines hold one object per line, with nothing after it$/,
    },
  },
  {
    file: 'json-array-trailing-comma.json',
    error: {
      code: 'PB_INVALID_RECORD',
      line: 4,
      message: /:4: \(row\): not valid JSON \(cannot parse: unexpected token '\]'\)$/,
    },
  },
  // What a second trial found: one-byte text that happens to hold a valid UTF-8 pair, files of two encodings.
  {
    file: 'excel-ru-windows-1251.csv',
    options: { encoding: 'windows-1251', column: 'Имя' },
    records: ids('Иван', 'Пётр', 'Фёдор'),
  },
  {
    file: 'excel-fr-windows-1252.csv',
    options: { encoding: 'windows-1252', column: 'nom' },
    records: ids('«CAFÉ» de la Gare', 'Hélène'),
  },
  {
    file: 'mixed-utf8-and-windows-1252.csv',
    error: {
      code: 'PB_PARSE',
      line: 10,
      message:
        /:10: not UTF-8: byte 0xFC .*the lines before it hold UTF-8 text with accents, so the file mixes two encodings/,
    },
  },
  {
    file: 'mixed-utf8-and-windows-1252.csv',
    options: { encoding: 'windows-1252' },
    error: {
      code: 'PB_PARSE',
      line: 2,
      message: /:2: mixes UTF-8 text with text in another encoding \(this line reads "u1,Zoë" as UTF-8\)/,
    },
  },
  // Reports with title and footer lines; exports without a header; PowerShell's #TYPE line.
  {
    file: 'salesforce-report.csv',
    error: {
      code: 'PB_USAGE',
      message: /cannot tell the delimiter: .*if the lines before line 4 are a title, pass --skip-lines 3/,
    },
  },
  {
    file: 'salesforce-report.csv',
    options: { skipLines: 3, column: 'Contact ID' },
    error: {
      code: 'PB_INVALID_RECORD',
      line: 8,
      message: /:8: \(row\): expected 3 fields as in the header, got 1/,
    },
  },
  {
    file: 'powershell-export.csv',
    records: ids('u1', 'u2'),
    detected: { skippedLines: 1, idColumn: 'user_id' },
  },
  {
    file: 'redshift-unload.txt',
    error: {
      code: 'PB_USAGE',
      message:
        /the header has "1001", "Ann", "2026-01-05": name it with --column, or, .*pass --no-header and --column N/,
    },
  },
  {
    file: 'redshift-unload.txt',
    options: { header: false, column: '1' },
    error: {
      code: 'PB_INVALID_RECORD',
      line: 3,
      message: /:3: 1: is a null marker from a database, pandas or a spreadsheet/,
    },
  },
  // Values that stand for nothing, and ids pandas turned into floats.
  {
    file: 'null-markers.csv',
    error: { code: 'PB_INVALID_RECORD', line: 3, message: /:3: user_id: is a null marker/ },
  },
  {
    file: 'pandas-float-ids.csv',
    error: {
      code: 'PB_INVALID_RECORD',
      line: 2,
      message: /:2: user_id: looks like a whole number written as a decimal .*probably "1001"/,
    },
  },
  {
    file: 'mparticle-users.jsonl',
    options: { column: 'mpid' },
    records: ids('-8234567890123456789', '1234567890123456789'),
  },
  {
    file: 'json-array.json',
    options: { column: 'user_id' },
    records: ids('u1', 'u2'),
    detected: { idColumn: 'userId' },
  },
  // Timestamps: Excel serials refused with their date; BigQuery's " UTC" read.
  {
    file: 'interactions-excel-serial.csv',
    options: { since: '2026-01-01' },
    error: {
      code: 'PB_INVALID_RECORD',
      line: 2,
      message: /:2: TIMESTAMP: "46027\.5" looks like an Excel date serial \(2026-01-05T12:00:00Z\)/,
    },
  },
  {
    file: 'interactions-bigquery.csv',
    options: { since: '2026-01-01', timestampColumn: 'event_timestamp' },
    records: ids('u1'),
  },
  {
    file: 'ranking-list-cells.csv',
    recipe: 'personalized-ranking',
    error: {
      code: 'PB_INVALID_RECORD',
      line: 3,
      message: /:3: items: "\['c', 'd'\]" looks like a Python list/,
    },
  },
];

const label = (c: Case) =>
  `${c.file}${c.recipe ? ` (${c.recipe})` : ''}${c.options ? ` ${JSON.stringify(c.options)}` : ''}`;

let tmp: Awaited<ReturnType<typeof makeTmp>>;
before(async () => {
  tmp = await makeTmp();
});
after(async () => {
  await tmp.cleanup();
});

describe('real-world files through prepare', () => {
  for (const c of CASES) {
    test(label(c), async () => {
      const opts = { recipe: c.recipe ?? 'user-personalization', ...c.options, sources: [at(c.file)] };
      if (c.error) {
        const err = await rejectsWith(prepareFiles(opts), c.error.code, c.error.message);
        assert.equal(err.file, c.error.option ? undefined : at(c.file), 'the error names the file');
        if (c.error.line !== undefined) assert.equal(err.line, c.error.line);
        return;
      }
      const r = await prepareFiles(opts);
      assert.deepEqual(r.records, c.records);
      const d = r.summary.inputs[0] as InputDetection;
      for (const [k, v] of Object.entries(c.detected ?? {}))
        assert.deepEqual(d[k as keyof InputDetection], v, k);
      const warnings = r.summary.warnings;
      for (const w of c.warnings ?? [])
        assert.ok(
          warnings.some((x) => w.test(x)),
          `${w} in ${warnings}`,
        );
      if (!c.warnings) assert.deepEqual(warnings, [], 'no warning');
      for (const rec of r.records)
        assert.ok(!JSON.stringify(rec).includes('\uFFFD'), 'no U+FFFD in a record');
    });
  }
});

describe('real-world files from stdin, in pieces', () => {
  // The same bytes in 1-byte and random pieces: the same records (UTF-8 and UTF-16
  // characters, CRLF and quoted line breaks cut at every place).
  for (const c of CASES.filter((x) => x.records && x.records.length > 0)) {
    test(label(c), async () => {
      const bytes = await readFile(at(c.file));
      const opts = { recipe: c.recipe ?? 'user-personalization', ...c.options };
      for (const how of [1, { seed: 7, max: 9 }, { seed: 11, max: 200 }]) {
        const r = await prepareStdin(opts, split(bytes, how));
        assert.deepEqual(r.records, c.records, JSON.stringify(how));
      }
    });
  }
});

describe('real-world refusals from stdin, in pieces', () => {
  // A bad byte or a bad line is reported on the same line however the bytes arrive.
  for (const c of CASES.filter((x) => x.error?.line !== undefined && x.error.code !== 'PB_USAGE')) {
    test(label(c), async () => {
      const bytes = await readFile(at(c.file));
      const opts = { recipe: c.recipe ?? 'user-personalization', ...c.options };
      for (const how of [1, { seed: 5, max: 13 }]) {
        const err = await rejectsWith(prepareStdin(opts, split(bytes, how)), c.error?.code as PbErrorCode);
        assert.equal(err.line, c.error?.line, JSON.stringify(how));
        assert.equal(err.file, '-');
      }
    });
  }
});

describe('real-world files through validate', () => {
  test('anything but JSON Lines is one problem that names prepare', async () => {
    const files = [
      'excel-de-semicolon-windows-1252.csv',
      'excel-unicode-text.txt',
      'utf-16le-no-bom.txt',
      'workbook.xlsx',
      'report.pdf',
      'one-column-no-header.txt',
      'shopify-customers.csv',
      'aws-docs-objects-on-one-line.json',
      'json-array.json',
      'json-pretty-objects.json',
    ];
    const expected = [
      /not UTF-8: byte 0xFC.*prepare --encoding windows-1252/,
      /UTF-16LE text \(it starts with that byte order mark\), not JSON Lines/,
      /looks like UTF-16 LE text without a byte order mark.*; pass prepare --encoding utf-16le$/,
      /this is an Excel workbook \(\.xlsx\), not a text file: .*save it as "CSV UTF-8", then pass that file$/,
      /this is a PDF document, not a text file/,
      /plain text \(one value per line\), not JSON Lines/,
      /a CSV file, not JSON Lines/,
      /several JSON objects on one line, not JSON Lines/,
      /a JSON array, not JSON Lines/,
      /JSON objects spread over several lines, not JSON Lines/,
    ];
    for (const [i, f] of files.entries()) {
      const problems: string[] = [];
      const s = await validateFiles({
        recipe: 'user-personalization',
        files: [at(f)],
        onProblem: (m) => problems.push(m),
      });
      assert.equal(s.problems, 1, f);
      assert.match(problems[0] as string, expected[i] as RegExp, f);
      if (i === 1 || i > 4)
        assert.match(
          problems[0] as string,
          /run `personalize-batch prepare --recipe user-personalization FILE -o FILE\.jsonl`/,
        );
    }
  });

  test('e-mail ids, U+FFFD and the docs Popularity-Count lines in JSON Lines', async () => {
    const f = await writeText(
      tmp.path('batch.jsonl'),
      '{"userId":"anna@example.de"}\n{"userId":"j\uFFFDrgen"}\n{"userId":"10001"}\n',
    );
    const problems: string[] = [];
    const s = await validateFiles({
      recipe: 'user-personalization',
      files: [f],
      onProblem: (m) => problems.push(m),
    });
    assert.equal(s.invalidRecords, 2);
    assert.match(problems[0] as string, /:1: userId: looks like an e-mail address; .*--allow-email-ids/);
    assert.match(problems[1] as string, /:2: userId: contains U\+FFFD/);
    const allowed = await validateFiles({ recipe: 'user-personalization', files: [f], allowEmailIds: true });
    assert.equal(allowed.invalidRecords, 1, 'only the U+FFFD line');

    const pop = await validateFiles({
      recipe: 'popular-items',
      files: [at('aws-docs-popularity-count.json')],
    });
    assert.equal(pop.problems, 0);
    assert.equal(pop.warnings.length, 1);
    assert.match(pop.warnings[0] as string, /^3 Popularity-Count lines have no userId/);
  });

  test('an empty file is no records: a problem, as a job on it would fail', async () => {
    const problems: string[] = [];
    const s = await validateFiles({
      recipe: 'user-personalization',
      files: [at('empty.csv')],
      onProblem: (m) => problems.push(m),
    });
    assert.equal(s.records, 0);
    assert.deepEqual(problems, [
      `${at('empty.csv')}: (job): no records: a batch job needs at least one (on an empty input it fails)`,
    ]);
  });

  test("prepare's output of every readable case passes validate", async () => {
    for (const c of CASES.filter((x) => x.records && x.records.length > 0)) {
      const recipe = c.recipe ?? 'user-personalization';
      // The docs' Popularity-Count lines pass with a warning (tested above).
      const out = tmp.path(`${c.file}.jsonl`);
      await prepare({ recipe, ...c.options, sources: [at(c.file)], output: out });
      const s = await validateFiles({ recipe, files: [out], allowEmailIds: c.options?.allowEmailIds });
      assert.equal(s.problems, 0, label(c));
    }
  });
});

describe('real-world spreadsheet damage, rejected row by row', () => {
  test('each damaged id goes to the rejects file with its reason; the good one is written', async () => {
    const rejects = tmp.path('damaged.rejects.jsonl');
    const r = await prepareFiles({
      recipe: 'user-personalization',
      sources: [at('excel-damaged-ids.csv')],
      onInvalid: 'skip',
      rejects,
    });
    assert.deepEqual(r.records, ids('103'));
    const got = (await readText(rejects))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; reason: string });
    assert.deepEqual(
      got.map((x) => [x.line, x.reason.replace(/[;:(,].*$/, '')]),
      [
        [2, "starts with '"],
        [3, 'looks like a number a spreadsheet shortened to scientific notation'],
        [4, 'is a spreadsheet error value'],
        [5, 'contains an invisible character '],
      ],
    );
  });
});

describe('real-world rows rejected one by one, the good ones written', () => {
  const skipped = async (name: string, opts: Partial<PrepareOptions>, recipe = 'user-personalization') => {
    const rejects = tmp.path(`${name}.rejects.jsonl`);
    const r = await prepareFiles({ recipe, ...opts, sources: [at(name)], onInvalid: 'skip', rejects });
    const got = (await readText(rejects))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { line: number; reason: string });
    return {
      records: r.records,
      rejected: got.map((x) => [x.line, x.reason.replace(/[;:(,].*$/, '').trim()]),
    };
  };

  test('a report: title lines skipped, footer lines rejected', async () => {
    const r = await skipped('salesforce-report.csv', { skipLines: 3, column: 'Contact ID' });
    assert.deepEqual(r.records, ids('003A1', '003A2'));
    assert.deepEqual(r.rejected, [
      [8, 'expected 3 fields as in the header'],
      [9, 'expected 3 fields as in the header'],
    ]);
  });

  test('null markers and pandas floats', async () => {
    const nulls = await skipped('null-markers.csv', {});
    assert.deepEqual(nulls.records, ids('1001', '1002'));
    assert.deepEqual(
      nulls.rejected.map((x) => x[0]),
      [3, 4, 5, 6, 7, 8],
    );
    const floats = await skipped('pandas-float-ids.csv', {});
    assert.deepEqual(floats.records, []);
    assert.deepEqual(floats.rejected, [
      [2, 'looks like a whole number written as a decimal'],
      [3, 'empty'],
      [4, 'looks like a whole number written as a decimal'],
    ]);
    const unload = await skipped('redshift-unload.txt', { header: false, column: '1' });
    assert.deepEqual(unload.records, ids('1001', '1002'));
  });

  test('item-list cells: a JSON list read, a Python list and stray commas refused', async () => {
    const r = await skipped('ranking-list-cells.csv', {}, 'personalized-ranking');
    assert.deepEqual(r.records, [
      { userId: 'u1', itemList: ['a', 'b'] },
      { userId: 'u4', itemList: ['g', 'h'] },
    ]);
    assert.deepEqual(r.rejected, [
      [3, `"['c'`],
      [4, '"e'],
    ]);
  });
});

describe('real-world catalogs through export', () => {
  const out =
    '{"input":{"userId":"u1"},"output":{"recommendedItems":["i2","i1","i9"],"scores":[0.5,0.3,0.2]},"error":null}\n';

  test('a catalog row without an id is skipped and counted, not fatal', async () => {
    const src = await writeText(tmp.path('a.out'), out);
    const csv = tmp.path('a.csv');
    const s = await exportOutputs({
      sources: [src],
      output: csv,
      catalog: at('catalog-gift-card.csv'),
      lineEnding: 'lf',
    });
    assert.equal(s.catalogRowsWithoutId, 1);
    assert.equal(s.catalogItems, 2);
    assert.ok(
      s.warnings.includes(
        `1 catalog row has no item id and was skipped (line 3 of ${at('catalog-gift-card.csv')})`,
      ),
    );
    assert.equal(
      await readText(csv),
      'userId,rank,itemId,score,TITLE,PRICE\nu1,1,i2,0.5,Red mug,12.50\nu1,2,i1,0.3,Blue mug,12.50\nu1,3,i9,0.2,,\n',
    );
  });

  test('a JSON Lines catalog keeps 64-bit numbers as printed', async () => {
    const src = await writeText(tmp.path('e.out'), out);
    const csv = tmp.path('e.csv');
    await exportOutputs({ sources: [src], output: csv, catalog: at('catalog-eans.jsonl'), lineEnding: 'lf' });
    assert.equal(
      await readText(csv),
      'userId,rank,itemId,score,TITLE,EAN\nu1,1,i2,0.5,Cap,4006381333931123457\nu1,2,i1,0.3,Hoodie,4006381333931123456\nu1,3,i9,0.2,,\n',
    );
  });

  test('catalog ids padded with spaces join, as prepare trims ids', async () => {
    const src = await writeText(tmp.path('c.out'), out);
    const csv = tmp.path('c.csv');
    const s = await exportOutputs({
      sources: [src],
      output: csv,
      catalog: at('catalog-padded-ids.csv'),
      lineEnding: 'lf',
    });
    assert.equal(s.catalogMissing, 1);
    assert.equal(
      await readText(csv),
      'userId,rank,itemId,score,TITLE\nu1,1,i2,0.5,Red mug\nu1,2,i1,0.3,Blue mug\nu1,3,i9,0.2,\n',
    );
  });

  test('a semicolon windows-1252 catalog: refused naming --catalog-encoding, read with it', async () => {
    const src = await writeText(tmp.path('b.out'), out);
    const cat = at('catalog-semicolon-windows-1252.csv');
    const err = await rejectsWith(
      exportOutputs({ sources: [src], output: tmp.path('b0.csv'), catalog: cat }),
      'PB_PARSE',
    );
    assert.equal(err.line, 2);
    assert.match(
      err.message,
      /--catalog-encoding windows-1252 reads \(this line as "i1;Tasse \\"Blau\\";12,50 €"\)/,
    );
    const csv = tmp.path('b.csv');
    await exportOutputs({
      sources: [src],
      output: csv,
      catalog: cat,
      catalogEncoding: 'windows-1252',
      lineEnding: 'lf',
    });
    assert.equal(
      await readText(csv),
      'userId,rank,itemId,score,TITLE,PRICE\nu1,1,i2,0.5,Müsli-Schale,"8,00 €"\nu1,2,i1,0.3,"Tasse ""Blau""","12,50 €"\nu1,3,i9,0.2,,\n',
    );
  });
});

describe("real-world catalogs through the emulator's Items file", () => {
  test('read by the same rules; a row without an id skipped; a windows-1252 file refused with the fix', async () => {
    const { loadCatalog } = await import('../../../src/emulator/catalog.js');
    const c = await loadCatalog(at('catalog-gift-card.csv'));
    assert.deepEqual(c.ids, ['i1', 'i2']);
    const semi = await loadCatalog(at('excel-sep-line.csv')).catch((e: unknown) => e);
    assert.match(
      String(semi),
      /cannot find the item id column; the header has "Customer ID", "Email", "Country"/,
    );
    const err = await rejectsWith(loadCatalog(at('catalog-semicolon-windows-1252.csv')), 'PB_PARSE');
    assert.equal(err.line, 2);
    assert.match(
      err.reason,
      /^not UTF-8: byte 0x80 cannot be read as text; save the file as UTF-8 \(if Excel saved it on Windows it is windows-1252/,
    );
    await rejectsWith(loadCatalog(at('workbook.xlsx')), 'PB_PARSE', /Excel workbook/);
  });
});

describe('real-world files through the CLI', () => {
  test('the detection is printed, and the errors name file, line and the fix', async () => {
    const ok = await cli([
      'prepare',
      '--recipe',
      'user-personalization',
      '--encoding',
      'windows-1252',
      '--column',
      'Kunden-Nr',
      at('excel-de-semicolon-windows-1252.csv'),
    ]);
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, '{"userId":"10001"}\n{"userId":"10002"}\n{"userId":"10003"}\n');
    assert.equal(
      ok.stderr.split('\n')[0],
      `prepare: ${at('excel-de-semicolon-windows-1252.csv')}: CSV, delimiter ";", header with 6 columns, id column "Kunden-Nr", windows-1252 (as given)`,
    );
    const bad = await cli(['prepare', '--recipe', 'user-personalization', at('workbook.xlsx')]);
    assert.equal(bad.code, 1);
    assert.equal(
      bad.stderr,
      `personalize-batch: ${at('workbook.xlsx')}: this is an Excel workbook (.xlsx), not a text file: open it in Excel (or LibreOffice) and save it as "CSV UTF-8", then pass that file\n`,
    );
    const json = await cli([
      'prepare',
      '--recipe',
      'user-personalization',
      '--json',
      '-o',
      tmp.path('j.jsonl'),
      at('excel-unicode-text.txt'),
    ]);
    const summary = JSON.parse(json.stdout);
    assert.equal(summary.inputs[0].encoding, 'utf-16le');
    assert.equal(summary.inputs[0].format, 'tsv');
  });
});
