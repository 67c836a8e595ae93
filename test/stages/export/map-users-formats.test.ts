import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import type { ExportOptions } from '../../../src/stages/export/index.js';
import { cli, exportTextIn, prng, useTmp } from '../../helpers.js';

// export --map-users in csv-wide and jsonl: the rows csv-long has (itself
// held to an oracle in map-users.test.ts), laid out as the plain export lays
// out a user-keyed output, with each item's source_item added.

const tmp = useTmp();
const exportText = exportTextIn(tmp);

function relLine(item: string, items: string[], scores: string[]): string {
  return `{"input":{"itemId":${JSON.stringify(item)}},"output":{"recommendedItems":${JSON.stringify(items)},"scores":[${scores.join(',')}]},"error":null}\n`;
}

/** Random lists, touches, a catalog of some items and a users file of some users. */
async function randomCase(seed: number) {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  let out = '';
  for (let i = 0; i < 25; i++) {
    const items = [...new Set(Array.from({ length: int(8) }, () => `i${int(30)}`))];
    out += relLine(
      `i${i}`,
      items,
      items.map((_, k) => String(1 / (k + 2))),
    );
  }
  let views = 'USER_ID,ITEM_ID,TIMESTAMP\n';
  for (let n = 0; n < 300; n++) views += `u${int(40)},i${int(30)},${1_700_000_000 + 60 * int(6)}\n`;
  const catalog = tmp.fresh('items.csv');
  let cat = 'ITEM_ID,TITLE,PRICE\n';
  for (let i = 0; i < 30; i += 2) cat += `i${i},"Title ${i}, Zoë",${i}.5\n`;
  await writeFile(catalog, cat);
  const users = tmp.fresh('crm.csv');
  let crm = 'customer_id,email,first_name\n';
  for (let u = 0; u < 40; u += 3) crm += `u${u},u${u}@example.com,Jo ${u}\n`;
  await writeFile(users, crm);
  const interactions = tmp.fresh('views.csv');
  await writeFile(interactions, views);
  return { out, catalog, users, interactions };
}

type Opts = Omit<ExportOptions, 'sources' | 'stdin' | 'stdout' | 'output'>;

/** csv-long's rows per user: [source_item, itemId, score, TITLE, PRICE, email, first_name] in rank order. */
function longRows(text: string, users = true): Map<string, string[][]> {
  const rows = parseCsv(text) as string[][];
  const userCols = users ? ['email', 'first_name'] : [];
  assert.deepEqual(rows[0], [
    'userId',
    'source_item',
    'rank',
    'itemId',
    'score',
    'TITLE',
    'PRICE',
    ...userCols,
  ]);
  const out = new Map<string, string[][]>();
  for (const [user, source, rank, item, ...rest] of rows.slice(1) as string[][]) {
    const list = out.get(user as string) ?? [];
    assert.equal(rank, String(list.length + 1));
    list.push([source as string, item as string, ...rest]);
    out.set(user as string, list);
  }
  return out;
}

/** csv-wide's rows per user in csv-long's shape: the numbered columns read back by name. */
function wideRows(text: string, width: number, users = true): Map<string, string[][]> {
  const [header, ...rows] = parseCsv(text) as string[][];
  const col = (name: string) => (header as string[]).indexOf(name);
  const numbered = ['item', 'source_item', 'score', 'TITLE', 'PRICE'];
  const expected = [
    'userId',
    ...numbered.flatMap((n) => Array.from({ length: width }, (_, i) => `${n}_${i + 1}`)),
  ];
  assert.deepEqual(header, [...expected, ...(users ? ['email', 'first_name'] : [])]);
  const out = new Map<string, string[][]>();
  for (const r of rows) {
    const list: string[][] = [];
    for (let i = 1; i <= width && r[col(`item_${i}`)] !== ''; i++) {
      const at = (n: string) => r[col(`${n}_${i}`)] as string;
      list.push([
        at('source_item'),
        at('item'),
        at('score'),
        at('TITLE'),
        at('PRICE'),
        ...(users ? [r[col('email')] as string, r[col('first_name')] as string] : []),
      ]);
    }
    // Past the user's rows every numbered cell is empty.
    for (let i = list.length + 1; i <= width; i++)
      for (const n of numbered) assert.equal(r[col(`${n}_${i}`)], '');
    out.set(r[0] as string, list);
  }
  return out;
}

interface JsonRecord {
  userId: string;
  email: string | null;
  first_name: string | null;
  items: { itemId: string; source_item: string; score: number; TITLE: string | null; PRICE: string | null }[];
}

/** jsonl's records per user in csv-long's shape (nulls as csv-long's empty cells, scores as numbers). */
function jsonRows(text: string, users = true): Map<string, string[][]> {
  const out = new Map<string, string[][]>();
  for (const line of text.trim().split('\n')) {
    const r = JSON.parse(line) as JsonRecord;
    assert.deepEqual(Object.keys(r), ['userId', ...(users ? ['email', 'first_name'] : []), 'items']);
    out.set(
      r.userId,
      r.items.map((it) => {
        assert.deepEqual(Object.keys(it), ['itemId', 'source_item', 'score', 'TITLE', 'PRICE']);
        return [
          it.source_item,
          it.itemId,
          String(it.score),
          it.TITLE ?? '',
          it.PRICE ?? '',
          ...(users ? [r.email ?? '', r.first_name ?? ''] : []),
        ];
      }),
    );
  }
  return out;
}

/** csv-long's scores as numbers, as jsonl's parse back. */
function numericScores(rows: Map<string, string[][]>): Map<string, string[][]> {
  return new Map(
    [...rows].map(([u, l]) => [u, l.map((r) => r.map((v, i) => (i === 2 ? String(Number(v)) : v)))]),
  );
}

describe('export --map-users: csv-wide and jsonl', () => {
  // With lists on disk (a budget under the lists' few kB) the users file cannot join: its table alone takes 1 MiB.
  test('the same rows as csv-long: every pick, --exclude-seen, --top, catalog and users, lists in memory and on disk', async () => {
    // Each setting on its own random case (seed): every setting and several inputs, in a third of the time.
    const settings = [
      ['all', true, undefined, undefined],
      ['all', false, 3, 2000],
      ['latest', true, undefined, 2000],
      ['most-frequent', false, undefined, undefined],
    ] as const;
    for (const [i, [mapPick, excludeSeen, top, memoryBudget]] of settings.entries()) {
      const seed = i + 1;
      const c = await randomCase(seed);
      {
        const what = `seed ${seed} ${mapPick} exclude=${excludeSeen} top=${top} budget=${memoryBudget}`;
        const opts: Opts = {
          mapUsers: c.interactions,
          mapPick,
          excludeSeen,
          top,
          memoryBudget,
          catalog: c.catalog,
          users: memoryBudget === undefined ? c.users : undefined,
        };
        const users = opts.users !== undefined;
        const long = await exportText(c.out, { ...opts, lineEnding: 'lf' });
        const want = longRows(long.out, users);
        assert.ok(want.size > 5, what);
        const wide = await exportText(c.out, { ...opts, format: 'csv-wide' });
        const width = Math.max(...[...want.values()].map((l) => l.length));
        assert.equal(wide.summary.width, width, what);
        assert.equal(wide.summary.format, 'csv-wide');
        assert.deepEqual(wideRows(wide.out, width, users), want, what);
        const jsonl = await exportText(c.out, { ...opts, format: 'jsonl' });
        assert.deepEqual(jsonRows(jsonl.out, users), numericScores(want), what);
        for (const s of [wide.summary, jsonl.summary]) {
          // One row per user, as a plain csv-wide or jsonl export counts them.
          assert.equal(s.rows, want.size, what);
          assert.equal(s.records, long.summary.records, what);
          assert.equal(s.catalogMissing, long.summary.catalogMissing, what);
          assert.equal(s.usersMissing, long.summary.usersMissing, what);
          assert.equal(s.mapUsers?.listsOnDisk, memoryBudget !== undefined, what);
        }
      }
    }
  });

  test('laid out as the plain export of the same lists keyed by user', async () => {
    const c = await randomCase(7);
    const opts: Opts = {
      mapUsers: c.interactions,
      mapPick: 'all',
      catalog: c.catalog,
      users: c.users,
      lineEnding: 'lf',
    };
    const long = longRows((await exportText(c.out, opts)).out);
    // The mapped lists as a user-keyed output, scores as printed.
    const scores = new Map<string, string>();
    for (const line of c.out.trim().split('\n')) {
      const l = JSON.parse(line) as { output: { recommendedItems: string[] } };
      const printed = (/"scores":\[([^\]]*)\]/.exec(line)?.[1] ?? '').split(',');
      l.output.recommendedItems.forEach((it, k) => {
        scores.set(`${JSON.stringify(line.slice(0, 40))}${it}`, printed[k] as string);
      });
    }
    let userOut = '';
    for (const [user, rows] of long)
      userOut += `{"input":{"userId":${JSON.stringify(user)}},"output":{"recommendedItems":${JSON.stringify(rows.map((r) => r[1]))},"scores":[${rows.map((r) => r[2]).join(',')}]},"error":null}\n`;
    const plain = { catalog: c.catalog, users: c.users, lineEnding: 'lf' } as const;
    // jsonl: the plain record is the mapped one without source_item.
    const mappedJson = (await exportText(c.out, { ...opts, format: 'jsonl' })).out.trim().split('\n');
    const plainJson = new Map(
      (await exportText(userOut, { ...plain, format: 'jsonl' })).out
        .trim()
        .split('\n')
        .map((l) => [(JSON.parse(l) as JsonRecord).userId, l]),
    );
    assert.equal(mappedJson.length, plainJson.size);
    for (const line of mappedJson) {
      const user = (JSON.parse(line) as JsonRecord).userId;
      assert.equal(line.replace(/,"source_item":"[^"]*"/g, ''), plainJson.get(user));
    }
    // csv-wide: the plain header and rows are the mapped ones without the source_item_i columns.
    const mappedWide = parseCsv((await exportText(c.out, { ...opts, format: 'csv-wide' })).out) as string[][];
    const plainWide = parseCsv(
      (await exportText(userOut, { ...plain, format: 'csv-wide' })).out,
    ) as string[][];
    const keep = (mappedWide[0] as string[]).map((h) => !h.startsWith('source_item_'));
    const drop = (r: string[]) => r.filter((_, i) => keep[i]);
    assert.deepEqual(drop(mappedWide[0] as string[]), plainWide[0]);
    const byUser = (rows: string[][]) => new Map(rows.slice(1).map((r) => [r[0], r]));
    assert.deepEqual(new Map([...byUser(mappedWide)].map(([u, r]) => [u, drop(r)])), byUser(plainWide));
  });

  test('a small case, exactly; the CLI', async () => {
    const out =
      relLine('a', ['x', 'y', 'z'], ['0.3', '0.2', '0.1']) +
      relLine('b', ['y', 'x', 'a'], ['0.9', '0.8', '0.7']);
    const views = tmp.fresh('v.csv');
    await writeFile(views, 'user_id,item_id,ts\nu1,a,2026-01-01\nu1,b,2026-01-02\nu2,a,2026-01-01\n');
    const catalog = tmp.fresh('cat.csv');
    await writeFile(catalog, 'ITEM_ID,TITLE\nx,"Zoë, the film"\n');
    const users = tmp.fresh('crm.csv');
    await writeFile(users, 'customer_id,email\nu1,=u1@example.com\n');
    const opts: Opts = {
      mapUsers: views,
      mapPick: 'all',
      excludeSeen: true,
      catalog,
      users,
      lineEnding: 'lf',
    };
    const wide = await exportText(out, {
      ...opts,
      format: 'csv-wide',
      bom: true,
      rename: { userId: 'external_id' },
    });
    assert.equal(
      wide.out,
      '\uFEFFexternal_id,item_1,item_2,item_3,source_item_1,source_item_2,source_item_3,score_1,score_2,score_3,TITLE_1,TITLE_2,TITLE_3,email\n' +
        'u2,x,y,z,a,a,a,0.3,0.2,0.1,"Zoë, the film",,,\n' +
        'u1,y,x,z,b,a,a,0.9,0.3,0.1,,"Zoë, the film",,\'=u1@example.com\n',
    );
    const jsonl = await exportText(out, { ...opts, format: 'jsonl' });
    assert.equal(
      jsonl.out,
      '{"userId":"u2","email":null,"items":[{"itemId":"x","source_item":"a","score":0.3,"TITLE":"Zoë, the film"},{"itemId":"y","source_item":"a","score":0.2,"TITLE":null},{"itemId":"z","source_item":"a","score":0.1,"TITLE":null}]}\n' +
        '{"userId":"u1","email":"=u1@example.com","items":[{"itemId":"y","source_item":"b","score":0.9,"TITLE":null},{"itemId":"x","source_item":"a","score":0.3,"TITLE":"Zoë, the film"},{"itemId":"z","source_item":"a","score":0.1,"TITLE":null}]}\n',
    );
    assert.equal(jsonl.summary.mapUsers?.seenDropped, 1);
    const file = tmp.fresh('related.out');
    await writeFile(file, out);
    const r = await cli(['export', file, '--map-users', views, '--map-pick', 'latest', '--format', 'jsonl']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      '{"userId":"u2","items":[{"itemId":"x","source_item":"a","score":0.3},{"itemId":"y","source_item":"a","score":0.2},{"itemId":"z","source_item":"a","score":0.1}]}\n' +
        '{"userId":"u1","items":[{"itemId":"y","source_item":"b","score":0.9},{"itemId":"x","source_item":"b","score":0.8},{"itemId":"a","source_item":"b","score":0.7}]}\n',
    );
  });
});
