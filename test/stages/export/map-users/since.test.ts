import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { parse as parseCsv } from 'csv-parse/sync';
import { describeExport } from '../../../../src/cli/commands/export.js';
import { type ExportOptions, exportOutputs } from '../../../../src/stages/export/index.js';
import { prng, rejectsWith, useTmp } from '../../../helpers.js';

/**
 * export --map-users --since (map-users/since.ts): week 2 against week 1,
 * held to an oracle made of the two full exports: the users whose list of
 * ids (in order) is new or changed are written with the very rows week 2's
 * full export gives them; REMOVED is week 1's users week 2 has no rows for,
 * in week 1's order; in each format, with PREV in each format.
 */

const tmp = useTmp();

function relLine(item: string, items: string[]): string {
  const output = { recommendedItems: items, scores: items.map((_, i) => 0.9 - i / 10) };
  return `${JSON.stringify({ input: { itemId: item }, output, error: null })}\n`;
}

/** Random related-items lists and two weeks of views: some users keep their items, some change, some go or come. */
function weeks(seed: number) {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  let out = '';
  for (let i = 0; i < 12; i++) {
    const items = [...new Set(Array.from({ length: 1 + int(5) }, () => `i${int(12)}`))].filter(
      (x) => x !== `i${i}`,
    );
    if (items.length > 0) out += relLine(`i${i}`, items);
  }
  const users = 40 + int(60);
  let one = 'USER_ID,ITEM_ID,TIMESTAMP\n';
  let two = 'USER_ID,ITEM_ID,TIMESTAMP\n';
  for (let u = 0; u < users; u++) {
    const name = u % 7 === 0 ? `=u${u}` : u % 5 === 0 ? `Zoë, ${u}` : `u${u}`;
    const cell = /[,"]/.test(name) ? `"${name}"` : name;
    const item = `i${int(12)}`;
    const fate = int(4); // 0 same, 1 changed item, 2 gone, 3 new
    if (fate !== 3) one += `${cell},${item},100\n`;
    if (fate === 0) two += `${cell},${item},100\n`;
    if (fate === 1 || fate === 3) two += `${cell},i${int(12)},200\n`;
  }
  return { out, one, two };
}

async function mapped(out: string, views: string, opts: Partial<ExportOptions>) {
  const src = tmp.fresh('rel.out');
  const v = tmp.fresh('views.csv');
  await writeFile(src, out);
  await writeFile(v, views);
  const output = opts.output ?? tmp.fresh(opts.format === 'jsonl' ? 'o.jsonl' : 'o.csv');
  const summary = await exportOutputs({ sources: [src], mapUsers: v, ...opts, output });
  return { summary, output, text: await readFile(output, 'utf8') };
}

const unguard = (k: string) => (/^'[=+\-@]/.test(k) ? k.slice(1) : k);

/** Each user's record: csv-long its rows, csv-wide its row without the padding, jsonl its line. */
function records(text: string, format: string): Map<string, string> {
  const out = new Map<string, string>();
  if (format === 'jsonl') {
    for (const line of text.split('\n').filter(Boolean))
      out.set((JSON.parse(line) as { userId: string }).userId, line);
    return out;
  }
  const rows = (parseCsv(text) as string[][]).slice(1);
  for (const r of rows) {
    // Keyed as the user is, not as the cell shows it (the formula guard's '), as jsonl keys are.
    const user = unguard(r[0] as string);
    // csv-wide's width is the widest written user's: compare the cells with the padding taken off.
    const cells = format === 'csv-wide' ? r.filter((c) => c !== '') : r;
    out.set(user, `${out.get(user) ?? ''}${cells.join('|')}\n`);
  }
  return out;
}

/** The ids of a user's list, in order, from its record. */
function ids(rec: string, format: string): string {
  if (format === 'jsonl')
    return (JSON.parse(rec) as { items: { itemId: string }[] }).items.map((i) => i.itemId).join();
  if (format === 'csv-long')
    return rec
      .trim()
      .split('\n')
      .map((r) => r.split('|')[3])
      .join();
  const cells = rec.trim().split('|');
  return cells.slice(1, 1 + (cells.length - 1) / 3).join();
}

test('week 2 against week 1: new and changed users written as the full export writes them, REMOVED the gone, in every format', async () => {
  const formats = ['csv-long', 'csv-wide', 'jsonl'] as const;
  for (let seed = 1; seed <= 3; seed++) {
    const w = weeks(seed);
    for (const [i, format] of formats.entries()) {
      // PREV in another format than the export, in turn: PREV is told by content.
      const prevFormat = formats[(i + seed) % 3] as (typeof formats)[number];
      const one = await mapped(w.out, w.one, { format: prevFormat });
      const full = await mapped(w.out, w.two, { format });
      const removed = tmp.fresh('removed.csv');
      const delta = await mapped(w.out, w.two, { format, since: one.output, removed });
      const before = records(one.text, prevFormat);
      const after = records(full.text, format);
      const got = records(delta.text, format);
      const what = `seed ${seed} ${prevFormat} -> ${format}`;
      const want = [...after].filter(([u, rec]) => {
        const was = before.get(u);
        return was === undefined || ids(was, prevFormat) !== ids(rec, format);
      });
      assert.deepEqual(got, new Map(want), what);
      const gone = [...before.keys()].filter((u) => !after.has(u));
      const lines = (await readFile(removed, 'utf8')).split('\r\n').filter(Boolean);
      assert.equal(lines[0], 'userId', what);
      assert.deepEqual(
        (parseCsv(lines.slice(1).join('\n')) as string[][]).map((r) => unguard(r[0] as string)),
        gone.map(unguard),
        what,
      );
      const news = want.filter(([u]) => !before.has(u)).length;
      assert.deepEqual(
        delta.summary.since && { ...delta.summary.since, prev: '', removedFile: '' },
        {
          prev: '',
          removedFile: '',
          prevFormat: prevFormat,
          new: news,
          changed: want.length - news,
          unchanged: after.size - want.length,
          removed: gone.length,
          failed: 0,
        },
        what,
      );
      assert.ok(
        want.length > 0 && want.length < after.size && gone.length > 0,
        `${what}: a case of each kind`,
      );
      // The summary line counts the users written as mapped "with a new or changed list", the
      // unchanged ones after (a user's trial read "1 user mapped" of two mapped users, one unchanged).
      assert.match(
        describeExport(delta.summary, delta.output, undefined),
        new RegExp(
          `, ${want.length} users? mapped \\(latest\\) with a new or changed list, .*${after.size - want.length} unchanged \\(not written\\)`,
        ),
        what,
      );
    }
  }
});

test('an empty PREV makes every user new; a PREV past --memory-budget is refused, saying so', async () => {
  const w = weeks(9);
  const empty = tmp.fresh('empty.csv');
  await writeFile(empty, '');
  const all = await mapped(w.out, w.two, { since: empty, removed: tmp.fresh('r.csv') });
  // REMOVED's lines end as the export's: --line-ending lf.
  const one1 = await mapped(w.out, w.one, {});
  const lfRemoved = tmp.fresh('r-lf.csv');
  await mapped(w.out, w.two, { since: one1.output, removed: lfRemoved, lineEnding: 'lf' });
  const lf = await readFile(lfRemoved, 'utf8');
  assert.ok(lf.startsWith('userId\n') && lf.split('\n').length > 2 && !lf.includes('\r'), lf.slice(0, 60));
  assert.equal(all.summary.since?.new, all.summary.records);
  assert.equal(all.summary.since?.removed, 0);
  const one = await mapped(w.out, w.one, {});
  await rejectsWith(
    mapped(w.out, w.two, { since: one.output, removed: tmp.fresh('r.csv'), memoryBudget: 64 }),
    'PB_LIMIT',
    /with --map-users, --since holds PREV's \d+ users in memory: they need more than --memory-budget \(64 bytes\)/,
  );
});

test('a PREV of the other kind is refused: a --map-users export for a plain export, a plain one or a .out for --map-users', async () => {
  const w = weeks(5);
  // A user-personalization output: keyed by userId too, the same users, other lists.
  const users = tmp.fresh('users.out');
  let lines = '';
  for (let u = 0; u < 6; u++)
    lines += `${JSON.stringify({ input: { userId: `u${u}` }, output: { recommendedItems: ['i1', 'i2'], scores: [0.5, 0.4] } })}\n`;
  await writeFile(users, lines);
  for (const format of ['csv-long', 'csv-wide', 'jsonl'] as const) {
    const ext = format === 'jsonl' ? 'jsonl' : 'csv';
    const week1 = await mapped(w.out, w.one, { format, output: tmp.fresh(`m.${ext}`) });
    const plain = tmp.fresh(`p.${ext}`);
    await exportOutputs({ sources: [users], format, output: plain });
    await rejectsWith(
      exportOutputs({
        sources: [users],
        format,
        output: tmp.fresh(`o.${ext}`),
        since: week1.output,
        removed: tmp.fresh('r.csv'),
      }),
      'PB_USAGE',
      /is an export --map-users wrote \(userId -> itemId: related items mapped to users \(--map-users\)\): without --map-users, give the previous export written without it/,
    );
    await rejectsWith(
      mapped(w.out, w.two, { format, since: plain, removed: tmp.fresh('r.csv') }),
      'PB_USAGE',
      /is not an export --map-users wrote \(it is userId -> itemId: items for users\): with --map-users, --since takes the previous --map-users export/,
    );
    // The same kind on both sides still goes.
    const ok = await mapped(w.out, w.two, { format, since: week1.output, removed: tmp.fresh('r.csv') });
    assert.ok((ok.summary.since?.unchanged ?? 0) + (ok.summary.since?.changed ?? 0) > 0, format);
  }
  await rejectsWith(
    mapped(w.out, w.two, { since: users, removed: tmp.fresh('r.csv') }),
    'PB_USAGE',
    /is not an export --map-users wrote \(it is userId -> itemId: items for users\)/,
  );
});
