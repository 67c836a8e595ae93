import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { type ExportOptions, type ExportSummary, exportOutputs } from '../../../src/stages/export/index.js';
import { cli, prng, rejectsWith, sink, split, stdinOf, useTmp } from '../../helpers.js';

// export --map-users: related-items output turned into rows per user. The
// oracle below recomputes each user's rows from the rules in the README with
// plain Maps, on random interactions (times with ties) and random lists.

const tmp = useTmp();

type Pick = 'latest' | 'most-frequent' | 'all';
interface Touch {
  user: string;
  item: string;
  time: number | null;
}
interface List {
  items: string[];
  scores: string[];
}

function relLine(item: string, list: List): string {
  const output = { recommendedItems: list.items, scores: list.scores.map(Number) };
  return `${JSON.stringify({ input: { itemId: item }, output, error: null })}\n`;
}

/** Random lists (some items have none) and touches whose times often tie; times written in three forms. */
function randomCase(seed: number, rows: number, users: number, shape = { lists: 15, length: 7, items: 20 }) {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const lists = new Map<string, List>();
  for (let i = 0; i < shape.lists; i++) {
    const items: string[] = [];
    for (let k = int(shape.length); k > 0; k--) {
      const r = `i${int(shape.items)}`;
      if (!items.includes(r) && r !== `i${i}`) items.push(r);
    }
    lists.set(`i${i}`, { items, scores: items.map((_, k) => String(1 / (k + 2))) });
  }
  const touches: Touch[] = [];
  for (let n = 0; n < rows; n++)
    touches.push({ user: `u${int(users)}`, item: `i${int(shape.items)}`, time: 1_700_000_000 + 60 * int(8) });
  const out = [...lists].map(([item, l]) => relLine(item, l)).join('');
  const forms = [
    (t: number) => String(t),
    (t: number) => String(t * 1000),
    (t: number) => new Date(t * 1000).toISOString(),
  ];
  const csv = `USER_ID,ITEM_ID,TIMESTAMP\n${touches
    .map((t) => `${t.user},${t.item},${(forms[int(3)] as (t: number) => string)(t.time as number)}`)
    .join('\n')}\n`;
  return { lists, touches, out, csv };
}

/** Each user's rows [source_item, rank, itemId, score] by the README's rules, computed the plain way. */
function oracle(touches: Touch[], lists: Map<string, List>, pick: Pick, excludeSeen: boolean, top: number) {
  const byUser = new Map<string, Map<string, { count: number; time: number; at: number }>>();
  touches.forEach((t, at) => {
    const items = byUser.get(t.user) ?? new Map();
    byUser.set(t.user, items);
    const s = items.get(t.item) ?? { count: 0, time: -Infinity, at: -1 };
    s.count++;
    const time = t.time ?? -Infinity;
    if (time > s.time || (time === s.time && at > s.at)) {
      s.time = time;
      s.at = at;
    }
    items.set(t.item, s);
  });
  const result = new Map<string, string[][]>();
  for (const [user, items] of byUser) {
    const recent = [...items].sort((a, b) => b[1].time - a[1].time || b[1].at - a[1].at);
    let picks: string[];
    if (pick === 'all') picks = recent.map(([i]) => i);
    else if (pick === 'latest') picks = [(recent[0] as [string, unknown])[0]];
    else {
      const most = Math.max(...recent.map(([, s]) => s.count));
      picks = [(recent.find(([, s]) => s.count === most) as [string, unknown])[0]];
    }
    const best = new Map<string, { rank: number; pick: number; source: string; score: string }>();
    picks.forEach((source, p) => {
      const l = lists.get(source);
      l?.items.forEach((item, i) => {
        const b = best.get(item);
        if (!b || i + 1 < b.rank || (i + 1 === b.rank && p < b.pick))
          best.set(item, { rank: i + 1, pick: p, source, score: l.scores[i] as string });
      });
    });
    const rows = [...best]
      .filter(([item]) => !(excludeSeen && items.has(item)))
      .sort((a, b) => a[1].rank - b[1].rank || a[1].pick - b[1].pick)
      .slice(0, top > 0 ? top : undefined)
      .map(([item, b], i) => [b.source, String(i + 1), item, String(Number(b.score))]);
    if (rows.length > 0) result.set(user, rows);
  }
  return result;
}

/** The CSV output grouped by user, each user's rows in order (users come in hash order). */
function byUser(csv: string): Map<string, string[][]> {
  const rows = parseCsv(csv, { bom: true }) as string[][];
  assert.deepEqual(rows[0]?.slice(0, 5), ['userId', 'source_item', 'rank', 'itemId', 'score']);
  const out = new Map<string, string[][]>();
  let last = '';
  for (const r of rows.slice(1)) {
    const [user, ...rest] = r as [string, ...string[]];
    // A user's rows are together.
    assert.ok(user === last || !out.has(user), `rows of ${user} are split`);
    last = user;
    const list = out.get(user) ?? [];
    list.push(rest.map((v, i) => (i === 3 ? String(Number(v)) : v)));
    out.set(user, list);
  }
  return out;
}

async function mapExport(
  out: string,
  interactions: string | Buffer,
  opts: Omit<ExportOptions, 'sources' | 'stdin' | 'stdout'> = {},
  name = 'views.csv',
): Promise<{ text: string; summary: ExportSummary; views: string }> {
  const views = tmp.fresh(name);
  await writeFile(views, interactions);
  const o = sink();
  const summary = await exportOutputs({
    errors: tmp.fresh('errors.jsonl'),
    mapUsers: views,
    ...opts,
    sources: ['-'],
    stdin: stdinOf(split(Buffer.from(out), { seed: 3, max: 50 })),
    stdout: o.stream,
  });
  await new Promise((r) => setImmediate(r));
  return { text: o.text(), summary, views };
}

describe('export --map-users', () => {
  test('latest, most-frequent and all match the oracle, with and without --exclude-seen and --top', async () => {
    const combos = (['latest', 'most-frequent', 'all'] as const).flatMap((mapPick) =>
      [false, true].flatMap((excludeSeen) => [0, 3].map((top) => ({ mapPick, excludeSeen, top }))),
    );
    // Twelve random cases, each export a few tenths of a second (256 partition files): each case
    // takes one of the twelve settings in turn, so that every setting meets a case.
    for (let seed = 1; seed <= 12; seed++) {
      const rand = prng(1000 + seed);
      const c = randomCase(seed, 50 + Math.floor(rand() * 400), 5 + Math.floor(rand() * 60));
      for (const { mapPick, excludeSeen, top } of [combos[seed % 12]]) {
        assert.ok(mapPick !== undefined);
        const { text, summary } = await mapExport(c.out, c.csv, {
          mapPick,
          excludeSeen,
          top: top || undefined,
        });
        const want = oracle(c.touches, c.lists, mapPick, excludeSeen, top);
        assert.deepEqual(byUser(text), want, `${mapPick} exclude=${excludeSeen} top=${top} seed=${seed}`);
        const m = summary.mapUsers;
        assert.ok(m);
        assert.equal(m.interactions, c.touches.length);
        assert.equal(m.usersMapped, want.size);
        assert.equal(
          summary.rows,
          [...want.values()].reduce((n, r) => n + r.length, 0),
        );
        assert.equal(m.users, new Set(c.touches.map((t) => t.user)).size);
        if (!excludeSeen) assert.equal(m.seenDropped, 0);
      }
    }
  });

  test('all: an item two sources recommend keeps the best rank and its source; ties go to the latest item', async () => {
    const out =
      relLine('a', { items: ['x', 'y', 'z'], scores: ['0.3', '0.2', '0.1'] }) +
      relLine('b', { items: ['y', 'x', 'a'], scores: ['0.9', '0.8', '0.7'] });
    const views = 'user_id,item_id,ts\nu1,a,2026-01-01\nu1,b,2026-01-02\n';
    const { text } = await mapExport(out, views, { mapPick: 'all', lineEnding: 'lf' });
    // b is later, so on rank 1 (x from a, y from b) and rank 2 b comes first; a (seen) stays without --exclude-seen.
    assert.equal(
      text,
      'userId,source_item,rank,itemId,score\nu1,b,1,y,0.9\nu1,a,2,x,0.3\nu1,b,3,a,0.7\nu1,a,4,z,0.1\n',
    );
    const ex = await mapExport(out, views, { mapPick: 'all', lineEnding: 'lf', excludeSeen: true });
    assert.equal(ex.text, 'userId,source_item,rank,itemId,score\nu1,b,1,y,0.9\nu1,a,2,x,0.3\nu1,a,3,z,0.1\n');
    assert.equal(ex.summary.mapUsers?.seenDropped, 1);
  });

  test('a tiny --memory-budget splits the partitions and gives the same rows', async () => {
    const c = randomCase(9, 8000, 300);
    const plain = await mapExport(c.out, c.csv, { mapPick: 'all', excludeSeen: true });
    const listBytes = plain.summary.mapUsers?.listBytes as number;
    assert.ok(listBytes > 0);
    // The lists take the budget but 200 bytes; the partitions get an eighth of it, far under a partition's cost.
    const tiny = await mapExport(c.out, c.csv, {
      mapPick: 'all',
      excludeSeen: true,
      memoryBudget: listBytes + 200,
    });
    assert.deepEqual(byUser(tiny.text), byUser(plain.text));
    assert.ok((tiny.summary.mapUsers?.partitions as number) > 256, 'partitions were split');
    assert.ok((plain.summary.mapUsers?.partitions as number) <= 256);
    assert.deepEqual(byUser(plain.text), oracle(c.touches, c.lists, 'all', true, 0));
    assert.equal(plain.summary.mapUsers?.listsOnDisk, false);
  });

  test('lists past --memory-budget are joined on disk: the same rows, in the same order', async () => {
    // Each setting on its own random case: latest and all, with and without --exclude-seen.
    const settings = [
      ['latest', false],
      ['all', true],
      ['latest', true],
      ['all', false],
    ] as const;
    for (const [i, [mapPick, excludeSeen]] of settings.entries()) {
      const seed = 4 + i;
      // Long lists (200 of up to 40 items) and few interactions: the lists outweigh any partition.
      const c = randomCase(seed, 1500, 200, { lists: 200, length: 40, items: 240 });
      // Two source items repeated on later lines: the first line wins on disk too.
      const out = `${c.out}${relLine('i1', { items: ['zz'], scores: ['0.9'] })}${relLine('i2', { items: [], scores: [] })}`;
      {
        const opts = { mapPick, excludeSeen, top: mapPick === 'all' ? 4 : undefined };
        const mem = await mapExport(out, c.csv, opts);
        const listBytes = mem.summary.mapUsers?.listBytes as number;
        const disk = await mapExport(out, c.csv, { ...opts, memoryBudget: Math.floor(listBytes / 3) });
        const what = `${mapPick} exclude=${excludeSeen} seed=${seed}`;
        assert.equal(mem.summary.mapUsers?.listsOnDisk, false, what);
        assert.equal(disk.summary.mapUsers?.listsOnDisk, true, what);
        // No partition was split (a third of the lists is far above any partition's cost): the same order.
        assert.equal(disk.text, mem.text, what);
        assert.deepEqual(byUser(disk.text), oracle(c.touches, c.lists, mapPick, excludeSeen, opts.top ?? 0));
        const { seconds: _a, ...a } = mem.summary;
        const { seconds: _b, ...b } = disk.summary;
        // On disk the repeated lines' lists are counted in listBytes too: they are found only when read back.
        assert.ok((b.mapUsers?.listBytes as number) > (a.mapUsers?.listBytes as number));
        assert.deepEqual(
          { ...b, mapUsers: { ...b.mapUsers, listsOnDisk: false, listBytes: 0 } },
          { ...a, mapUsers: { ...a.mapUsers, listBytes: 0 } },
          `${what}: the same counts`,
        );
        assert.equal(disk.summary.mapUsers?.duplicateLists, 2);
      }
    }
  });

  test('lists on disk: ids with quotes, backslashes, tabs and UTF-8 come back as they were', async () => {
    const odd = ['a"b', 'c\\d', 'Zoë', 'tab\there', '日本'];
    const out = odd
      .map((item, i) =>
        relLine(item, { items: [odd[(i + 1) % 5] as string, `x${i}`], scores: ['0.5', '0.25'] }),
      )
      .join('');
    const cell = (v: string) => `"${v.replace(/"/g, '""')}"`;
    const views = `USER_ID,ITEM_ID,TIMESTAMP\n${odd.map((item, i) => `${cell(`u${item}`)},${cell(item)},${1767571200 + i}`).join('\n')}\n${cell('u"1')},${cell('Zoë')},1767571200\n`;
    const mem = await mapExport(out, views, { mapPick: 'all', lineEnding: 'lf' });
    const disk = await mapExport(out, views, { mapPick: 'all', lineEnding: 'lf', memoryBudget: 200 });
    assert.equal(disk.summary.mapUsers?.listsOnDisk, true);
    assert.equal(disk.text, mem.text);
    const rows = parseCsv(mem.text, { relax_quotes: false }) as string[][];
    assert.deepEqual(
      rows.filter((r) => r[0] === 'ua"b').map((r) => r.slice(1, 4)),
      [
        ['a"b', '1', 'c\\d'],
        ['a"b', '2', 'x0'],
      ],
    );
    assert.deepEqual(new Set(rows.slice(1).map((r) => r[0])), new Set([...odd.map((i) => `u${i}`), 'u"1']));
  });

  test('lists on disk with a budget so small that every pass splits its partitions: the same rows', async () => {
    const c = randomCase(11, 1200, 600);
    const mem = await mapExport(c.out, c.csv, { mapPick: 'all', excludeSeen: true });
    const tiny = await mapExport(c.out, c.csv, { mapPick: 'all', excludeSeen: true, memoryBudget: 300 });
    assert.equal(tiny.summary.mapUsers?.listsOnDisk, true);
    assert.ok((tiny.summary.mapUsers?.partitions as number) > 256, 'partitions were split');
    // Split partitions reorder users (README): the rows per user are the same.
    assert.deepEqual(byUser(tiny.text), byUser(mem.text));
    assert.deepEqual(byUser(tiny.text), oracle(c.touches, c.lists, 'all', true, 0));
    assert.equal(tiny.summary.rows, mem.summary.rows);
  });

  test('an unparseable time goes to --rejects with file:line, or stops the export without it', async () => {
    const out = relLine('a', { items: ['x'], scores: ['0.5'] });
    const views = 'USER_ID,ITEM_ID,TIMESTAMP\nu1,a,1767571200\nu2,a,05.01.2026\nu3,a,\nu4,,1767571200\n';
    const rejects = tmp.fresh('rejects.jsonl');
    const { text, summary, views: file } = await mapExport(out, views, { rejects, lineEnding: 'lf' });
    assert.equal(text, 'userId,source_item,rank,itemId,score\nu1,a,1,x,0.5\n');
    const lines = (await readFile(rejects, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; line: number; reason: string; text: string });
    assert.deepEqual(
      lines.map((l) => [l.file, l.line, l.text]),
      [
        [file, 3, 'u2,a,05.01.2026'],
        [file, 4, 'u3,a,'],
        [file, 5, 'u4,,1767571200'],
      ],
    );
    assert.match(lines[0]?.reason ?? '', /"05\.01\.2026" is not a timestamp/);
    assert.match(lines[2]?.reason ?? '', /no item id/);
    assert.equal(summary.mapUsers?.interactionsRejected, 3);
    assert.equal(summary.mapUsers?.interactions, 1);
    const err = await rejectsWith(
      mapExport(out, views),
      'PB_INVALID_RECORD',
      /not a timestamp.*--rejects FILE/,
    );
    assert.equal(err.line, 3);
    assert.equal(err.field, 'TIMESTAMP');
  });

  test('a semicolon CSV with a BOM and CRLF, and JSON Lines with epoch milliseconds, read alike', async () => {
    const out =
      relLine('a', { items: ['x', 'y'], scores: ['0.5', '0.25'] }) +
      relLine('b', { items: ['z'], scores: ['1'] });
    const csv = Buffer.from(
      '\uFEFFcustomer_id;sku;event_time\r\nu1;a;2026-01-05T10:00:00Z\r\nu1;b;2026-01-05 09:00:00 UTC\r\nu2;b;1767571200\r\n',
    );
    const a = await mapExport(out, csv, { lineEnding: 'lf' });
    assert.deepEqual(
      byUser(a.text),
      new Map([
        [
          'u1',
          [
            ['a', '1', 'x', '0.5'],
            ['a', '2', 'y', '0.25'],
          ],
        ],
        ['u2', [['b', '1', 'z', '1']]],
      ]),
    );
    assert.equal(a.summary.mapUsers?.timeColumn, 'event_time');
    const jsonl = [
      { userId: 'u1', itemId: 'a', timestamp: 1767607200000 },
      { userId: 'u1', itemId: 'b', timestamp: 1767603600000 },
      { userId: 'u2', itemId: 'b', timestamp: 1767571200000 },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const b = await mapExport(out, jsonl, { lineEnding: 'lf' }, 'views.jsonl');
    assert.deepEqual(byUser(b.text), byUser(a.text));
  });

  test('catalog and user columns follow, as a plain export joins them', async () => {
    const out = relLine('a', { items: ['x', 'y'], scores: ['0.5', '0.25'] });
    const catalog = tmp.fresh('items.csv');
    await writeFile(catalog, 'ITEM_ID,TITLE\nx,"Zoë, the film"\n');
    const users = tmp.fresh('crm.csv');
    await writeFile(users, 'customer_id,email\nu1,=u1@example.com\n');
    const { text, summary } = await mapExport(
      out,
      'USER_ID,ITEM_ID,TIMESTAMP\nu1,a,1767571200\nu2,a,1767571200\n',
      {
        catalog,
        users,
        lineEnding: 'lf',
        rename: { userId: 'external_id' },
      },
    );
    const rows = parseCsv(text) as string[][];
    const u1 = rows.filter((r) => r[0] === 'u1');
    const u2 = rows.filter((r) => r[0] === 'u2');
    assert.deepEqual(rows[0], ['external_id', 'source_item', 'rank', 'itemId', 'score', 'TITLE', 'email']);
    assert.deepEqual(u1, [
      ['u1', 'a', '1', 'x', '0.5', 'Zoë, the film', "'=u1@example.com"],
      ['u1', 'a', '2', 'y', '0.25', '', "'=u1@example.com"],
    ]);
    assert.deepEqual(u2[0], ['u2', 'a', '1', 'x', '0.5', 'Zoë, the film', '']);
    assert.equal(summary.catalogMissing, 2);
    assert.equal(summary.usersMissing, 1);
  });

  test('a users file with a repeated and an empty key, a catalog with a repeated id: counted and warned', async () => {
    const catalog = tmp.fresh('items.csv');
    await writeFile(catalog, 'ITEM_ID,TITLE\nx,X\nx,X again\n');
    const users = tmp.fresh('crm.csv');
    await writeFile(users, 'customer_id,email\nu1,a@example.com\nu1,b@example.com\n,c@example.com\n');
    const { text, summary } = await mapExport(
      relLine('a', { items: ['x'], scores: ['0.5'] }),
      'USER_ID,ITEM_ID,TIMESTAMP\nu1,a,1767571200\n',
      { catalog, users, lineEnding: 'lf' },
    );
    assert.equal(text, 'userId,source_item,rank,itemId,score,TITLE,email\nu1,a,1,x,0.5,X,a@example.com\n');
    assert.deepEqual([summary.usersDuplicates, summary.usersRowsWithoutKey], [1, 1]);
    const w = summary.warnings.join('\n');
    assert.match(
      w,
      /the users file repeats 1 user key \(line 3 of .*crm\.csv\); the first row of each was used/,
    );
    assert.match(w, /1 row of the users file has no user key and was skipped \(line 4 of/);
    assert.match(w, /the catalog repeats 1 item ids; the first row of each was used/);
  });

  test('a users file over --memory-budget: PB_LIMIT naming the fix (the map joins users in memory)', async () => {
    const users = tmp.fresh('big-crm.csv');
    const rows = Array.from({ length: 40_000 }, (_, i) => `u${i},user${i}@example.com`);
    await writeFile(users, `customer_id,email\n${rows.join('\n')}\n`);
    await rejectsWith(
      mapExport(
        relLine('a', { items: ['x'], scores: ['0.5'] }),
        'USER_ID,ITEM_ID,TIMESTAMP\nu1,a,1767571200\n',
        {
          users,
          memoryBudget: 1_300_000,
        },
      ),
      'PB_LIMIT',
      /with --map-users the users file is joined in memory: it needs more than --memory-budget; raise --memory-budget/,
    );
  });

  test('refusals: not related items, missing columns, --max-file-size, options without --map-users', async () => {
    const user = `${JSON.stringify({ input: { userId: 'u1' }, output: { recommendedItems: ['x'] }, error: null })}\n`;
    await rejectsWith(
      mapExport(user, 'USER_ID,ITEM_ID,TIMESTAMP\nu1,a,1767571200\n'),
      'PB_USAGE',
      /maps related items .*keyed by input\.userId/,
    );
    const out = relLine('a', { items: ['x'], scores: ['0.5'] });
    await rejectsWith(
      mapExport(out, 'visitor,product,when\nu1,a,1767571200\n'),
      'PB_USAGE',
      /user id column; the header has "visitor", "product", "when": name it with --map-user-column/,
    );
    await rejectsWith(
      mapExport(out, 'USER_ID,ITEM_ID\nu1,a\n'),
      'PB_USAGE',
      /time column; the header has "USER_ID", "ITEM_ID": name it with --map-time-column/,
    );
    // most-frequent goes without a time.
    const mf = await mapExport(out, 'USER_ID,ITEM_ID\nu1,a\n', {
      mapPick: 'most-frequent',
      lineEnding: 'lf',
    });
    assert.equal(mf.text, 'userId,source_item,rank,itemId,score\nu1,a,1,x,0.5\n');
    await rejectsWith(
      mapExport(out, 'USER_ID,ITEM_ID\nu1,a\n', { maxFileSize: 1 << 20, output: tmp.fresh('o.csv') }),
      'PB_USAGE',
      /--max-file-size is not done with --map-users/,
    );
    // --since compares rows per user: the related-items output (keyed by source item) is no PREV for them.
    const rel = tmp.fresh('rel.out');
    await writeFile(rel, out);
    await rejectsWith(
      mapExport(out, 'USER_ID,ITEM_ID\nu1,a\n', { since: rel, removed: tmp.fresh('r.csv') }),
      'PB_USAGE',
      /is keyed by source_item: with --map-users, --since takes the previous --map-users export/,
    );
    await rejectsWith(
      exportOutputs({ sources: ['x.out'], excludeSeen: true }),
      'PB_USAGE',
      /--exclude-seen needs --map-users/,
    );
    await rejectsWith(
      mapExport(out, 'USER_ID,ITEM_ID\nu1,a\n', { mapPick: 'lastest' as Pick }),
      'PB_USAGE',
      /--map-pick must be one of latest, most-frequent, all.*did you mean latest\?/,
    );
  });

  test('the CLI', async () => {
    const out = tmp.fresh('related.out');
    await writeFile(out, relLine('a', { items: ['x', 'y'], scores: ['0.5', '0.25'] }));
    const views = tmp.fresh('views.csv');
    await writeFile(views, 'USER_ID,ITEM_ID,TIMESTAMP\nu1,a,1767571200\nu1,x,1767571100\nu2,b,bad\n');
    const rejects = tmp.fresh('rej.jsonl');
    const args = ['export', out, '--map-users', views, '--map-pick', 'latest', '--exclude-seen'];
    const r = await cli([...args, '--rejects', rejects, '--line-ending', 'lf']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'userId,source_item,rank,itemId,score\nu1,a,1,y,0.25\n');
    assert.match(
      r.stderr,
      /1 user mapped \(latest\), 1 row written to stdout.*1 seen item dropped, 1 interaction rejected/,
    );
    const bad = await cli(args);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /views\.csv:4/);
    const split = await cli([...args, '--max-file-size', '1MB', '-o', tmp.fresh('parts.csv')]);
    assert.equal(split.code, 2);
    assert.match(split.stderr, /--max-file-size is not done with --map-users/);
    const help = await cli(['export', '--help']);
    assert.match(help.stdout, /--map-users FILE[\s\S]*--exclude-seen[\s\S]*--map-users VIEWS\.csv/);
  });
});
