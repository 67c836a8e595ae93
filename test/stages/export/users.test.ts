import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { cli, exportTextIn, prng, rejectsWith, useTmp } from '../../helpers.js';
import { randomFile } from '../../out-fixtures.js';

// export --users: a users file (a CRM export) joined to every row of each
// user. The oracle at the end joins the plain export with a Map.

const tmp = useTmp();
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'real-world');

const exportText = exportTextIn(tmp);

function recLine(user: string, items: string[], scores?: number[]): string {
  const output = scores ? { recommendedItems: items, scores } : { recommendedItems: items };
  return `${JSON.stringify({ input: { userId: user }, output, error: null })}\n`;
}

const OUT = recLine('u1', ['i1', 'i2'], [0.5, 0.25]) + recLine('u3', ['i3'], [0.1]) + recLine('u2', ['i4']);

async function crm(text: string | Buffer, name = 'crm.csv'): Promise<string> {
  const file = tmp.fresh(name);
  await writeFile(file, text);
  return file;
}

describe('export --users', () => {
  test('Zoë and "Smith, Jo" byte for byte in csv-long, csv-wide and jsonl, on any chunking', async () => {
    const users = await crm(
      'customer_id,email,first_name,last_name\r\nu1,zoe@example.com,Zoë,"Smith, Jo"\r\nu2,b@example.com,Bo,"say ""hi"""\r\n',
    );
    const opts = { users, userKey: 'customer_id', userFields: ['first_name', 'last_name'] };
    for (const chunks of [undefined, 1, { seed: 7, max: 40 }]) {
      const long = await exportText(OUT, { ...opts, chunks });
      assert.equal(
        long.out,
        'userId,rank,itemId,score,first_name,last_name\r\n' +
          'u1,1,i1,0.5,Zoë,"Smith, Jo"\r\nu1,2,i2,0.25,Zoë,"Smith, Jo"\r\n' +
          'u3,1,i3,0.1,,\r\n' +
          'u2,1,i4,,Bo,"say ""hi"""\r\n',
      );
      assert.ok(long.bytes.includes(Buffer.from([0x5a, 0x6f, 0xc3, 0xab])), 'Zoë as its UTF-8 bytes');
      const wide = await exportText(OUT, { ...opts, chunks, format: 'csv-wide' });
      assert.equal(
        wide.out,
        'userId,item_1,item_2,score_1,score_2,first_name,last_name\r\n' +
          'u1,i1,i2,0.5,0.25,Zoë,"Smith, Jo"\r\nu3,i3,,0.1,,,\r\nu2,i4,,,,Bo,"say ""hi"""\r\n',
      );
      const jsonl = await exportText(OUT, { ...opts, chunks, format: 'jsonl' });
      assert.equal(
        jsonl.out,
        '{"userId":"u1","first_name":"Zoë","last_name":"Smith, Jo","items":[{"itemId":"i1","score":0.5},{"itemId":"i2","score":0.25}]}\n' +
          '{"userId":"u3","first_name":null,"last_name":null,"items":[{"itemId":"i3","score":0.1}]}\n' +
          '{"userId":"u2","first_name":"Bo","last_name":"say \\"hi\\"","items":[{"itemId":"i4","score":null}]}\n',
      );
      for (const r of [long, wide, jsonl]) {
        assert.equal(r.summary.usersInFile, 2);
        assert.equal(r.summary.usersMissing, 1);
        assert.equal(r.summary.usersDropped, 0);
        assert.ok(r.summary.warnings.some((w) => /1 user is not in the users file/.test(w)));
      }
    }
  });

  test('missing users: empty cells by default, dropped and counted with usersRequired', async () => {
    const users = await crm('userId,email\nu1,a@x\nu2,b@x\n');
    const kept = await exportText(OUT, { users });
    assert.equal(kept.summary.rows, 4);
    assert.equal(kept.summary.records, 3);
    assert.match(kept.out, /\r\nu3,1,i3,0\.1,\r\n/);
    const dropped = await exportText(OUT, { users, usersRequired: true });
    assert.equal(
      dropped.out,
      'userId,rank,itemId,score,email\r\nu1,1,i1,0.5,a@x\r\nu1,2,i2,0.25,a@x\r\nu2,1,i4,,b@x\r\n',
    );
    assert.equal(dropped.summary.records, 2);
    assert.equal(dropped.summary.rows, 3);
    assert.equal(dropped.summary.usersMissing, 1);
    assert.equal(dropped.summary.usersDropped, 1);
    assert.ok(dropped.summary.warnings.some((w) => /dropped \(--users-required\)/.test(w)));
    const wide = await exportText(OUT, { users, usersRequired: true, format: 'csv-wide' });
    assert.equal(wide.summary.usersDropped, 1);
    assert.doesNotMatch(wide.out, /u3/);
    const none = await exportText(OUT, { users: await crm('userId,email\nx,y\n') });
    assert.ok(none.summary.warnings.some((w) => /none of the 3 users of this export/.test(w)));
  });

  test('no user of the export in the users file with --users-required: a usage error naming the key column, no file', async () => {
    // Past --memory-budget 1.2 MB too, where the join is on disk (partitions).
    const more = Array.from({ length: 20_000 }, (_, i) => `f${i}@x,f${i},Name ${i}`);
    const users = await crm(`email,customer_id,name\na@x,u1,A\nb@x,u2,B\n${more.join('\n')}\n`);
    const src = await crm(OUT, 'none.out');
    const { exportOutputs } = await import('../../../src/stages/export/index.js');
    for (const extra of [{}, { format: 'csv-wide' as const }, { memoryBudget: 1_200_000 }, { gz: true }]) {
      const output = tmp.fresh(extra.gz ? 'none.csv.gz' : 'none.csv');
      const { gz: _, ...more } = { gz: false, ...extra };
      const opts = { users, userKey: 'email', usersRequired: true, output, sources: [src], ...more };
      await rejectsWith(
        exportOutputs(opts),
        'PB_USAGE',
        /none of the 3 users of this export is in the users file by its key column "email" \(--user-key\): the export's user ids are like "u1", "u3", "u2", the file's "email" values like "a@x", "b@x", "f0@x", \.\.\.; .*Its column "customer_id" holds them: use --user-key "customer_id"/,
      );
      await assert.rejects(readFile(output), { code: 'ENOENT' }, JSON.stringify(extra));
    }
    // From stdin, past the budget (the join on disk): the file's side only.
    await rejectsWith(
      exportText(OUT, { users, userKey: 'email', usersRequired: true, memoryBudget: 1_200_000 }),
      'PB_USAGE',
      /by its key column "email" \(--user-key\): the file's "email" values like "a@x", "b@x", "f0@x", \.\.\.; with --users-required no row would be written, so nothing was\. Give --user-key the column/,
    );
    // A column of the file holding none of them either: the header is listed.
    const other = await crm('email,name\na@x,A\n');
    await rejectsWith(
      exportText(OUT, { users: other, userKey: 'email', usersRequired: true }),
      'PB_USAGE',
      /the header has "email", "name"\), or check that --users names the right file/,
    );
    // --since: the delta would list every key of PREV in REMOVED; it stops before either file.
    const prev = tmp.fresh('prev.csv');
    await exportOutputs({ sources: [src], output: prev, users, userKey: 'customer_id' });
    const [delta, removed] = [tmp.fresh('delta.csv'), tmp.fresh('removed.csv')];
    await rejectsWith(
      exportOutputs({
        sources: [src],
        output: delta,
        removed,
        since: prev,
        users,
        userKey: 'email',
        usersRequired: true,
      }),
      'PB_USAGE',
      /none of the 3 users .*no row would be written and REMOVED would list every key of PREV, so nothing was\. Its column "customer_id"/,
    );
    for (const f of [delta, removed]) await assert.rejects(readFile(f), { code: 'ENOENT' }, f);
    // One user found is enough: the others are dropped as before.
    const one = await exportText(OUT, { users, userKey: 'customer_id', usersRequired: true });
    assert.equal(one.summary.usersDropped, 1);
  });

  test('columns without a name or with a repeated one: empty ones are no columns, the rest refused unless named', async () => {
    // Excel's trailing empty columns: no name, no value (one, then two of them).
    for (const text of ['userId,email,\nu1,a@x,\nu2,b@x,\n', 'userId,email,,\r\nu1,a@x,,\r\nu2,b@x,,\r\n']) {
      const r = await exportText(OUT, { users: await crm(text), format: 'csv-wide' });
      assert.equal(
        r.out,
        'userId,item_1,item_2,score_1,score_2,email\r\nu1,i1,i2,0.5,0.25,a@x\r\nu3,i3,,0.1,,\r\nu2,i4,,,,b@x\r\n',
      );
    }
    // No name, and a value under it: refused when every column is taken, left out when the columns are named.
    const unnamed = await crm('userId,,email\nu1,,a@x\nu2,VIP,b@x\n');
    await rejectsWith(
      exportText(OUT, { users: unnamed }),
      'PB_USAGE',
      /column 2 has no name in the header but has values \("VIP" on line 3\), and without --user-fields every column is joined: name it in the header, or name the columns to join with --user-fields/,
    );
    assert.match(
      (await exportText(OUT, { users: unnamed, userFields: ['email'] })).out,
      /^userId,rank,itemId,score,email\r\nu1,1,i1,0\.5,a@x\r\n/,
    );
    // A repeated name: refused when every column is taken or when it is asked for; another column named is fine.
    const dup = await crm('user_id,email,email,name\nu1,a@x,b@x,Zoë\n');
    await rejectsWith(
      exportText(OUT, { users: dup }),
      'PB_USAGE',
      /the users file has "email" twice in its header \(columns 2 and 3\), and without --user-fields every column is joined: rename one in the file/,
    );
    const asked = exportText(OUT, { users: dup, userFields: ['email'] });
    await rejectsWith(
      asked,
      'PB_USAGE',
      /--user-fields "email": the header has "email" and "email" \(columns 2 and 3\); rename one in the file$/,
    );
    assert.match(
      (await exportText(OUT, { users: dup, userFields: ['name'] })).out,
      /^userId,rank,itemId,score,name\r\nu1,1,i1,0\.5,Zoë\r\n/,
    );
    await rejectsWith(
      exportText(OUT, { users: dup, userFields: ['emial'] }),
      'PB_USAGE',
      /did you mean "email"\?$/,
    );
    // The catalog follows the same rule.
    const catalog = await crm('itemId,title,\ni1,One,\n', 'items.csv');
    assert.match(
      (await exportText(OUT, { catalog })).out,
      /^userId,rank,itemId,score,title\r\nu1,1,i1,0\.5,One\r\n/,
    );
  });

  test('--max-cell-bytes cuts user cells on a character boundary, and counts each cell written cut', async () => {
    const users = await crm('customer_id,first_name\nu1,Zoëlle\nu2,Bo\n');
    const opts = { users, userKey: 'customer_id', userFields: ['first_name'], maxCellBytes: 4 };
    const long = await exportText(OUT, opts);
    // "Zoë" is 4 bytes; "Zoël" would be 5: the cut never splits the ë.
    assert.equal(
      long.out,
      'userId,rank,itemId,score,first_name\r\nu1,1,i1,0.5,Zoë\r\nu1,2,i2,0.25,Zoë\r\nu3,1,i3,0.1,\r\nu2,1,i4,,Bo\r\n',
    );
    assert.equal(long.summary.cellsCut, 2, 'one per row of u1');
    const wide = await exportText(OUT, { ...opts, format: 'csv-wide' });
    assert.equal(wide.summary.cellsCut, 1, 'one row for u1');
  });

  test('--rename names user columns too (the Mailchimp recipe: email -> Email Address)', async () => {
    const users = await crm('customer_id,email\nu1,zoe@example.com\n');
    const r = await exportText(OUT, {
      users,
      userKey: 'customer_id',
      format: 'csv-wide',
      rename: { email: 'Email Address', userId: 'customer' },
    });
    assert.equal(r.out.split('\r\n')[0], 'customer,item_1,item_2,score_1,score_2,Email Address');
    assert.match(r.out, /\r\nu1,i1,i2,0\.5,0\.25,zoe@example\.com\r\n/);
  });

  test("mParticle's users file: signed 64-bit MPIDs matched as written, a negative one unguarded in the CSV", async () => {
    // JSON numbers past 2^53 (a double would merge ...789 and ...790); a guard's apostrophe before the
    // negative id would have broken it for the tool the file is imported into.
    const users = join(FIXTURES, 'mparticle-users.jsonl');
    const out =
      recLine('-8234567890123456789', ['a'], [0.5]) +
      recLine('1234567890123456789', ['b'], [0.25]) +
      recLine('1234567890123456790', ['c'], [0.1]);
    const { out: csv, summary } = await exportText(out, { users, userKey: 'mpid', userFields: ['email'] });
    assert.equal(
      csv,
      'userId,rank,itemId,score,email\r\n-8234567890123456789,1,a,0.5,a@example.com\r\n' +
        '1234567890123456789,1,b,0.25,b@example.com\r\n1234567890123456790,1,c,0.1,\r\n',
    );
    assert.equal(summary.usersMissing, 1);
  });

  test('JSON Lines users: numbers copied as written (2.50, 1e3, -0, 1.0), not as JavaScript writes them', async () => {
    // A user's trial: ltv 2.50 came out as 2.5 (JSON.parse, then JSON.stringify).
    const users = await crm(
      '{"customer_id":"u1","ltv":2.50,"points":1e3,"n":-0,"one":1.0,"plain":0.1,"tag":"a: 2.50","nested":{"x":2.50}}\n' +
        '{"customer_id":"u2","ltv":3,"points":1.5E-3,"n":7,"one":10,"plain":2,"tag":"b","nested":null}\n',
      'users.jsonl',
    );
    const fields = ['ltv', 'points', 'n', 'one', 'plain', 'tag', 'nested'];
    const { out } = await exportText(OUT, { users, userKey: 'customer_id', userFields: fields });
    const rows = parseCsv(out, { columns: true }) as Record<string, string>[];
    const of = (u: string) => rows.find((r) => r.userId === u) as Record<string, string>;
    assert.deepEqual(
      fields.map((f) => of('u1')[f]),
      ['2.50', '1e3', '-0', '1.0', '0.1', 'a: 2.50', '{"x":2.5}'],
    );
    assert.deepEqual(
      fields.map((f) => of('u2')[f]),
      ['3', '1.5E-3', '7', '10', '2', 'b', ''],
    );
  });

  test('a repeated key keeps its first row: counted, one warning with the line numbers', async () => {
    const users = await crm('userId,email\nu1,first@x\nu2,b@x\nu1,second@x\n u1 ,third@x\n,nokey@x\n');
    const r = await exportText(OUT, { users });
    assert.match(r.out, /u1,1,i1,0\.5,first@x/);
    assert.doesNotMatch(r.out, /second|third|nokey/);
    assert.equal(r.summary.usersDuplicates, 2);
    assert.equal(r.summary.usersRowsWithoutKey, 1);
    const dup = r.summary.warnings.filter((w) => /repeats/.test(w));
    assert.equal(dup.length, 1);
    assert.match(
      dup[0] as string,
      /repeats 2 user keys \(lines 4, 5 of .*crm\.csv\); the first row of each was used/,
    );
    assert.ok(r.summary.warnings.some((w) => /1 row of the users file has no user key .*line 6/.test(w)));
  });

  test('Excel semicolon files: UTF-8 with BOM, and windows-1252 with usersEncoding, as csv-parse reads them', async () => {
    const out =
      recLine('10001', ['a']) + recLine('10002', ['b']) + recLine('10003', ['c']) + recLine('99', ['d']);
    const fields = ['E-Mail', 'Vorname', 'Nachname'];
    const cases = [
      { file: 'excel-de-csv-utf8-bom.csv', encoding: undefined, decode: 'utf8' as const },
      { file: 'excel-de-semicolon-windows-1252.csv', encoding: 'windows-1252', decode: 'latin1' as const },
    ];
    for (const c of cases) {
      const path = join(FIXTURES, c.file);
      const raw = await readFile(path);
      // latin1 equals windows-1252 for these letters (ü, ö, ß, é).
      const rows = parseCsv(raw.toString(c.decode), { delimiter: ';', bom: true, columns: true }) as Record<
        string,
        string
      >[];
      const byKey = new Map(rows.map((r) => [r['Kunden-Nr'] as string, r]));
      const r = await exportText(out, {
        users: path,
        userKey: 'Kunden-Nr',
        userFields: fields,
        usersEncoding: c.encoding,
        format: 'jsonl',
      });
      const got = r.out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const g of got) {
        const want = byKey.get(g.userId as string);
        for (const f of fields) assert.equal(g[f], want ? want[f] : null, `${c.file} ${g.userId} ${f}`);
      }
      assert.equal(r.summary.usersMissing, 1);
      assert.match(String(got.find((g) => g.userId === '10002')?.Nachname), /^Weiß\r?\n\(Büro\)$/, c.file);
    }
    // windows-1252 without the option: refused, naming it.
    await rejectsWith(
      exportText(out, { users: join(FIXTURES, cases[1]?.file as string), userKey: 'Kunden-Nr' }),
      'PB_PARSE',
      /--users-encoding/,
    );
  });

  test("a Salesforce report's footer (Printable View) is named, with advice a users file can take", async () => {
    // A user's trial: the message offered "--users-delimiter plain" and "rows rejected one by one",
    // neither of which a users file has.
    const users = await crm(
      '"Contact ID","First Name","Email"\r\n"u1","Zoë","zoe@example.com"\r\n"u2","Jo","jo@example.com"\r\n\r\n' +
        '"Contacts Report"\r\n"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\r\n' +
        '"Confidential Information - Do Not Distribute"\r\n"Generated By:  Jo Smith  12/8/2026 3:00 AM"\r\n"Acme, Inc."\r\n',
    );
    const err = await rejectsWith(
      exportText(OUT, { users, userKey: 'Contact ID' }),
      'PB_USAGE',
      /after the blank line 4, every line is one field: a report's footer .*Delete the lines from line 4 on.*pass --users-delimiter to choose one \(a row that does not fit it then stops the command there\)$/,
    );
    assert.doesNotMatch(err.message, /plain|one by one|--skip-lines/);
  });

  test('a key column not in the header lists the header and the closest name', async () => {
    const users = await crm('customer_id;email\nu1;a@x\n');
    await rejectsWith(
      exportText(OUT, { users, userKey: 'custmer_id' }),
      'PB_USAGE',
      /no column "custmer_id" for --user-key; the header has "customer_id", "email"; did you mean "customer_id"\?/,
    );
    await rejectsWith(
      exportText(OUT, { users, userFields: ['emial'] }),
      'PB_USAGE',
      /no column "emial" for --user-fields.*did you mean "email"/,
    );
    await rejectsWith(exportText(OUT, { userKey: 'x' }), 'PB_USAGE', /--user-key needs --users/);
    await rejectsWith(exportText(OUT, { usersRequired: true }), 'PB_USAGE', /--users-required needs --users/);
  });

  test('outputs not keyed by user id refuse --users, saying why', async () => {
    const users = await crm('userId,email\nu1,a@x\n');
    const related = `${JSON.stringify({ input: { itemId: 'i1' }, output: { recommendedItems: ['i2'] }, error: null })}\n`;
    await rejectsWith(
      exportText(related, { users }),
      'PB_USAGE',
      /keyed by itemId .*not by user id.*without --users/,
    );
    const segment = `${JSON.stringify({ input: { itemId: 'i1' }, output: { usersList: ['u1'] }, error: null })}\n`;
    await rejectsWith(exportText(segment, { users }), 'PB_USAGE', /users for each item.*not by user id/);
  });

  test('past --memory-budget: joined in partitions on disk, the same rows as in memory', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `u${i},user${i}@example.com,Name ${i}`);
    const users = await crm(`userId,email,name\n${rows.join('\n')}\n`);
    const spilled = await exportText(OUT, { users, memoryBudget: 1_200_000 });
    assert.ok(spilled.summary.usersPartitions > 1, `${spilled.summary.usersPartitions} partitions`);
    const fits = await exportText(OUT, { users, memoryBudget: 64 * 1024 * 1024 });
    assert.equal(fits.summary.usersPartitions, 0);
    assert.equal(spilled.summary.usersInFile, 20_000);
    assert.equal(fits.summary.usersInFile, 20_000);
    const sorted = (t: string) => t.split('\r\n').slice(1).sort();
    assert.deepEqual(sorted(spilled.out), sorted(fits.out));
    assert.equal(spilled.out.split('\r\n')[0], fits.out.split('\r\n')[0]);
  });

  test('a user field named like an export column gets a user_ prefix (CSV and jsonl)', async () => {
    const users = await crm('userId,score,items,item_1,email\nu1,5,x,y,a@x\n');
    const line = recLine('u1', ['i1'], [0.5]);
    const long = await exportText(line, { users });
    assert.equal(
      long.out,
      'userId,rank,itemId,score,user_score,items,item_1,email\r\nu1,1,i1,0.5,5,x,y,a@x\r\n',
    );
    const wide = await exportText(line, { users, format: 'csv-wide' });
    assert.equal(wide.out, 'userId,item_1,score_1,score,items,user_item_1,email\r\nu1,i1,0.5,5,x,y,a@x\r\n');
    const jsonl = await exportText(line, { users, format: 'jsonl' });
    assert.equal(
      jsonl.out,
      '{"userId":"u1","score":"5","user_items":"x","item_1":"y","email":"a@x","items":[{"itemId":"i1","score":0.5}]}\n',
    );
    const catalog = await crm('ITEM_ID,email\ni1,item@x\n', 'items.csv');
    const both = await exportText(line, { users, userFields: ['email'], catalog });
    assert.equal(both.out, 'userId,rank,itemId,score,email,user_email\r\nu1,1,i1,0.5,item@x,a@x\r\n');
  });

  test('the oracle: the joined export equals the plain export joined with a Map, in all three formats', async () => {
    for (const seed of [1, 2, 3]) {
      const { text, lines } = randomFile(seed, 300, {
        kind: 'recommendations',
        keyField: 'userId',
        messy: true,
        errorRate: 0.05,
      });
      const rand = prng(seed);
      const keys = [...new Set(lines.map((l) => l.expected.key))];
      const values = ['Zoë', 'Smith, Jo', 'say "hi"', 'two\nlines', '=1+2', '', '  padded  ', 'ü€'];
      const pick = () => values[Math.floor(rand() * values.length)] as string;
      const crmRows: string[][] = [];
      for (const k of keys) {
        if (rand() < 0.3 || k.trim() !== k || k === '') continue;
        crmRows.push([k, pick(), pick()]);
        if (rand() < 0.1) crmRows.push([k, 'later', 'later']);
      }
      const map = new Map<string, string[]>();
      for (const [k, ...v] of crmRows) if (!map.has(k as string)) map.set(k as string, v);
      const users = await crm(stringify([['key', 'a', 'b'], ...crmRows]), `crm-${seed}.csv`);
      const guard = (v: string) => (/^[=+\-@\t\r]/.test(v) ? `'${v}` : v);
      // The key cell went through the formula guard too: the user's key is without it.
      const keyOf = (cell: string) =>
        /^'[=+\-@\t\r\uFF1D\uFF0B\uFF0D\uFF20]/.test(cell) ? cell.slice(1) : cell;
      const opts = { users, userKey: 'key', chunks: { seed, max: 500 } };
      for (const format of ['csv-long', 'csv-wide'] as const) {
        const plain = parseCsv((await exportText(text, { format })).out) as string[][];
        const joined = await exportText(text, { ...opts, format });
        const want = plain.map((row, i) =>
          i === 0
            ? [...row, 'a', 'b']
            : [...row, ...(map.get(keyOf(row[0] as string)) ?? ['', '']).map(guard)],
        );
        assert.deepEqual(parseCsv(joined.out), want, `${format} seed ${seed}`);
      }
      const plain = (await exportText(text, { format: 'jsonl' })).out.trim().split('\n');
      const joined = await exportText(text, { ...opts, format: 'jsonl' });
      // Text surgery, not a JSON round trip: scores stay as printed.
      const want = plain.map((l) => {
        const [a, b] = map.get((JSON.parse(l) as { userId: string }).userId) ?? [null, null];
        return l.replace(',"items":[', `,"a":${JSON.stringify(a)},"b":${JSON.stringify(b)},"items":[`);
      });
      assert.deepEqual(joined.out.trim().split('\n'), want, `jsonl seed ${seed}`);
      assert.equal(joined.summary.usersMissing, plain.filter((l) => !map.has(JSON.parse(l).userId)).length);
    }
  });

  test('the CLI: --help shows the options and an example; a join from files', async () => {
    const help = await cli(['export', '--help']);
    assert.equal(help.code, 0);
    for (const o of [
      '--users FILE',
      '--user-key C',
      '--user-fields A,B',
      '--users-required',
      '--memory-budget SIZE',
    ])
      assert.ok(help.stdout.includes(o), o);
    assert.match(help.stdout, /export users\.json\.out --users CRM\.csv --user-key customer_id/);
    const users = await crm('sep=;\r\ncustomer_id;email;first_name\r\nu1;zoe@x;Zoë\r\n');
    const src = await crm(OUT, 'a.out');
    const r = await cli([
      'export',
      src,
      '--users',
      users,
      '--user-key',
      'customer_id',
      '--user-fields',
      'first_name, email',
      '--users-required',
      '--memory-budget',
      '8MiB',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      'userId,rank,itemId,score,first_name,email\r\nu1,1,i1,0.5,Zoë,zoe@x\r\nu1,2,i2,0.25,Zoë,zoe@x\r\n',
    );
    assert.match(r.stderr, /2 users not in the users file \(2 dropped\), which holds 1 user in /);
    const bad = await cli(['export', src, '--users', users, '--user-key', 'nope']);
    assert.equal(bad.code, 2);
  });

  test('a file option naming no file says so, as every other one does, not an internal error', async () => {
    const src = await crm(OUT, 'a.out');
    const rel = await crm(
      `${JSON.stringify({ input: { itemId: 'i1' }, output: { recommendedItems: ['i2'] }, error: null })}\n`,
      'rel.out',
    );
    const missing = tmp.fresh('nothere.csv');
    for (const argv of [
      ['export', src, '--users', missing],
      ['export', src, '--catalog', missing],
      ['export', rel, '--map-users', missing],
      ['export', missing],
    ]) {
      const r = await cli(argv);
      assert.equal(r.code, 1, argv.join(' '));
      assert.doesNotMatch(r.stderr, /internal error|\n {4}at /, argv.join(' '));
      assert.match(
        r.stderr,
        new RegExp(`${missing.replace(/[.]/g, '\\.')}: (cannot read: )?no such file`),
        argv.join(' '),
      );
    }
    // A --tmp-dir typo: csv-wide from stdin spools there first.
    const tmpDir = await cli(['export', '-', '--format', 'csv-wide', '--tmp-dir', missing], OUT);
    assert.equal(tmpDir.code, 1);
    assert.match(tmpDir.stderr, /: cannot make a temporary folder here \(--tmp-dir\): no such folder\n$/);
  });
});
