import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { describeExport } from '../../../src/cli/commands/export.js';
import { hashBytes, partitionOf } from '../../../src/core/byteset.js';
import { exportOutputs } from '../../../src/stages/export/index.js';
import { cli } from '../../helpers.js';

type Rec = { items: string[]; scores: number[] };

function line(key: string, r: Rec): string {
  return JSON.stringify({
    input: { userId: key },
    output: { recommendedItems: r.items, scores: r.scores },
    error: null,
  });
}

/** A seeded PREV and current pair with every case: new, changed in order, scores only, removed, unchanged. */
function world(seed: number): { prev: Map<string, Rec>; cur: Map<string, Rec> } {
  let x = seed;
  const rnd = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  const prev = new Map<string, Rec>();
  const cur = new Map<string, Rec>();
  for (let u = 0; u < 300; u++) {
    const key = u % 7 === 0 ? `=u"${u},é` : `u${u}`;
    const items = Array.from({ length: 1 + rnd(4) }, () => `i${rnd(50)}`);
    const scores = items.map(() => rnd(100) / 100);
    const r = { items, scores };
    const c = rnd(5);
    if (c !== 0) prev.set(key, r); // 0: new
    if (c === 1) continue; // removed
    if (c === 2) cur.set(key, { items: [...items].reverse().concat('z'), scores: [...scores, 0] });
    else if (c === 3) cur.set(key, { items, scores: scores.map((s) => s + 0.5) });
    else cur.set(key, r);
  }
  return { prev, cur };
}

function oracle(prev: Map<string, Rec>, cur: Map<string, Rec>, scores: boolean) {
  const written = new Set<string>();
  const c = { new: 0, changed: 0, unchanged: 0, removed: 0 };
  for (const [k, r] of cur) {
    const p = prev.get(k);
    if (!p) c.new++;
    else if (p.items.join('\n') !== r.items.join('\n') || (scores && p.scores.join() !== r.scores.join()))
      c.changed++;
    else {
      c.unchanged++;
      continue;
    }
    written.add(k);
  }
  const removed = [...prev.keys()].filter((k) => !cur.has(k)).sort();
  c.removed = removed.length;
  return { written, removed, c };
}

async function setup(seed: number) {
  const dir = await mkdtemp(join(tmpdir(), 'pb-delta-'));
  const w = world(seed);
  await writeFile(join(dir, 'prev.out'), [...w.prev].map(([k, r]) => line(k, r)).join('\n'));
  await writeFile(join(dir, 'cur.out'), `${[...w.cur].map(([k, r]) => line(k, r)).join('\r\n')}\r\n`);
  return { dir, ...w };
}

async function keysOf(file: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const l of (await readFile(file, 'utf8')).split('\n').filter((l) => l.trim() !== ''))
    out.add(JSON.parse(l).userId);
  return out;
}

/** The REMOVED file's keys, its CSV read back (quotes, the formula guard). */
async function removedOf(file: string): Promise<string[]> {
  const text = await readFile(file, 'utf8');
  const rows = text.split('\r\n').filter((r) => r !== '');
  assert.equal(rows[0], 'userId');
  return rows
    .slice(1)
    .map((r) => (r.startsWith('"') ? r.slice(1, -1).replace(/""/g, '"') : r))
    .map((r) => (r.startsWith("'=") ? r.slice(1) : r))
    .sort();
}

for (const format of ['out', 'csv-long', 'csv-wide', 'jsonl'] as const) {
  for (const scores of [false, true]) {
    test(`--since over a ${format} PREV${scores ? ' with --since-scores' : ''} equals the oracle`, async () => {
      const { dir, prev, cur } = await setup(format.length * 31 + (scores ? 1 : 0));
      let prevFile = join(dir, 'prev.out');
      if (format !== 'out') {
        prevFile = join(dir, `prev.${format}`);
        await exportOutputs({ sources: [join(dir, 'prev.out')], output: prevFile, format });
      }
      const want = oracle(prev, cur, scores);
      for (const memoryBudget of [undefined, 4096]) {
        const out = join(dir, `delta-${memoryBudget}.jsonl`);
        const removed = join(dir, `removed-${memoryBudget}.csv`);
        const s = await exportOutputs({
          sources: [join(dir, 'cur.out')],
          output: out,
          format: 'jsonl',
          since: prevFile,
          removed,
          sinceScores: scores,
          memoryBudget,
        });
        assert.deepEqual(await keysOf(out), want.written);
        assert.deepEqual(await removedOf(removed), want.removed);
        const { new: n, changed, unchanged, removed: r } = s.since ?? assert.fail('no since summary');
        assert.deepEqual({ new: n, changed, unchanged, removed: r }, want.c);
        assert.ok(want.c.new > 0 && want.c.changed > 0 && want.c.unchanged > 0 && want.c.removed > 0);
      }
    });
  }
}

test('a PREV of another recipe, or not an export, is a usage error naming what it is; nothing is written', async () => {
  const { dir } = await setup(5);
  const related = join(dir, 'related.out');
  await writeFile(
    related,
    `${JSON.stringify({ input: { itemId: 'a' }, output: { recommendedItems: ['b'] }, error: null })}\n`,
  );
  const run = (since: string) =>
    exportOutputs({
      sources: [join(dir, 'cur.out')],
      output: join(dir, 'o.csv'),
      since,
      removed: join(dir, 'r.csv'),
    });
  await assert.rejects(run(related), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'PB_USAGE');
    assert.match(e.message, /source_item -> itemId.*userId -> itemId/);
    return true;
  });
  const list = join(dir, 'list.csv');
  await writeFile(list, 'email,name\na@b.c,x\n');
  await assert.rejects(run(list), /header \(email,name\) is not one export writes/);
  const manifest = join(dir, 'manifest.json');
  await writeFile(manifest, JSON.stringify({ family: 'x', shards: [] }));
  await assert.rejects(run(manifest), /shard manifest/);
  assert.equal(existsSync(join(dir, 'r.csv')), false);
  assert.equal(existsSync(join(dir, 'o.csv')), false);
});

test('a weekly e-mail file as PREV: renamed (--rename), with a BOM, in parts (-o name of --max-file-size)', async () => {
  const { dir, prev, cur } = await setup(2);
  const rename = { userId: 'external_id', item_1: 'rec_1', score_1: 'rec_score_1' };
  const email = { format: 'csv-wide' as const, rename, bom: true, pieceSize: 4096, maxFileSize: 3000 };
  const last = await exportOutputs({
    sources: [join(dir, 'prev.out')],
    output: join(dir, 'w1.csv'),
    ...email,
  });
  assert.ok((last.parts ?? []).length > 1, 'several parts');
  const want = oracle(prev, cur, false);
  assert.ok(last.width === 4 && want.c.changed > 0 && want.c.removed > 0);
  const removed = join(dir, 'gone.csv');
  const s = await exportOutputs({
    sources: [join(dir, 'cur.out')],
    output: join(dir, 'w2.csv'),
    ...email,
    maxFileSize: undefined,
    since: join(dir, 'w1.csv'),
    removed,
  });
  const { new: n, changed, unchanged, removed: r } = s.since ?? assert.fail('no since summary');
  assert.deepEqual({ new: n, changed, unchanged, removed: r }, want.c);
  // The summary line's lines are the kept ones, and says so (a user's re-check read "0 lines from 1 file").
  assert.match(
    describeExport(s, join(dir, 'w2.csv'), undefined),
    new RegExp(`^export \\(csv-wide\\): ${s.lines} new or changed lines? from 1 file, `),
  );
  // The removed file's header is the key column's name in the export, after the BOM the export has too.
  assert.equal((await readFile(removed, 'utf8')).split('\r\n')[0], '\uFEFFexternal_id');
  // Without the renames, the renamed header is not one export writes: the message names the fix.
  await assert.rejects(
    exportOutputs({
      sources: [join(dir, 'cur.out')],
      output: join(dir, 'x.csv'),
      since: join(dir, 'w1.csv'),
      removed,
    }),
    /header \(external_id,rec_1,item_2,item_3\) is not one export writes.*the same --rename/,
  );
});

test('--since needs --removed; --removed and --since-scores need --since', async () => {
  await assert.rejects(exportOutputs({ sources: ['x.out'], since: 'p.csv' }), /--removed FILE/);
  await assert.rejects(exportOutputs({ sources: ['x.out'], removed: 'r.csv' }), /needs --since/);
  await assert.rejects(exportOutputs({ sources: ['x.out'], sinceScores: true }), /needs --since/);
});

test("a line one byte off the service's shape: in the sources an error at its line, in PREV skipped", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pb-since-bad-'));
  const good = (u: string, items: string[]) => line(u, { items, scores: items.map(() => 0.5) });
  // A leading zero, no JSON number: the key scan refuses it and the parser says why.
  const bad = good('u3', ['c']).replace('0.5', '00.5');
  const prev = join(dir, 'prev.out');
  await writeFile(prev, [good('u1', ['a']), bad, good('u2', ['b'])].join('\n'));
  const cur = join(dir, 'cur.out');
  await writeFile(cur, [good('u1', ['a']), good('u2', ['x']), good('u3', ['c'])].join('\n'));
  const out = join(dir, 'o.jsonl');
  const s = await exportOutputs({
    sources: [cur],
    output: out,
    format: 'jsonl',
    since: prev,
    removed: join(dir, 'r.csv'),
  });
  // PREV's u3 was never exported: new now.
  assert.deepEqual(await keysOf(out), new Set(['u2', 'u3']));
  assert.equal(s.since?.new, 1);
  await writeFile(cur, [good('u1', ['a']), '', good('u2', ['x']), bad].join('\n'));
  await assert.rejects(
    exportOutputs({
      sources: [cur],
      output: out,
      format: 'jsonl',
      since: prev,
      removed: join(dir, 'r2.csv'),
    }),
    (e: Error & { code?: string; line?: number }) => {
      assert.equal(e.code, 'PB_PARSE');
      assert.equal(e.line, 4);
      assert.match(e.message, /bad number.*--on-invalid skip does not apply/);
      return true;
    },
  );
  assert.equal(existsSync(join(dir, 'r2.csv')), false);
});

test('a key twice in PREV with other keys between is an error naming both lines', async () => {
  const { dir } = await setup(9);
  const prev = join(dir, 'twice.csv');
  await writeFile(prev, 'userId,rank,itemId\r\nu1,1,a\r\nu2,1,b\r\nu1,1,c\r\n');
  await assert.rejects(
    exportOutputs({
      sources: [join(dir, 'cur.out')],
      output: join(dir, 'o.csv'),
      since: prev,
      removed: join(dir, 'r.csv'),
    }),
    /twice\.csv:4: .*"u1".*line 2/,
  );
  assert.equal(existsSync(join(dir, 'r.csv')), false);
});

/** A key's partition, as --since spreads keys (the two threads decide the even and the odd ones). */
const partOf = (key: string) => {
  const b = Buffer.from(key);
  return partitionOf(hashBytes(b, 0, b.length), 256);
};

test("two threads decide: REMOVED in partition order, and of several errors the first partition's", async () => {
  const { dir } = await setup(10);
  const keys = Array.from({ length: 300 }, (_, i) => `g${i}`);
  const prev = join(dir, 'gone.csv');
  await writeFile(prev, `userId,rank,itemId\r\n${keys.map((k) => `${k},1,a\r\n`).join('')}`);
  const removed = join(dir, 'r.csv');
  await exportOutputs({ sources: [join(dir, 'cur.out')], output: join(dir, 'o.csv'), since: prev, removed });
  const rows = (await readFile(removed, 'utf8')).split('\r\n').slice(1, -1);
  assert.deepEqual([...rows].sort(), [...keys].sort());
  const parts = rows.map(partOf);
  assert.ok(new Set(parts.map((p) => p % 2)).size === 2);
  assert.deepEqual(
    parts,
    [...parts].sort((a, b) => a - b),
  );
  // Twenty keys twice: the one a single thread would meet first, by partition then line.
  const dups = keys.slice(0, 20);
  await writeFile(prev, `userId,rank,itemId\r\n${[...dups, ...dups].map((k) => `${k},1,a\r\n`).join('')}`);
  const first = Math.min(...dups.map(partOf));
  const want = dups.find((k) => partOf(k) === first);
  await assert.rejects(
    exportOutputs({ sources: [join(dir, 'cur.out')], output: join(dir, 'o.csv'), since: prev, removed }),
    (err: Error) => err.message.includes(`"${want}" is here`),
  );
});

test('the CLI: --since and --removed from files, the summary line, --json, and --help', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pb-since-cli-'));
  const rec = (user: string, items: string[]) =>
    `${JSON.stringify({ input: { userId: user }, output: { recommendedItems: items }, error: null })}\n`;
  await writeFile(join(dir, 'last.out'), rec('u1', ['a', 'b']) + rec('u2', ['c']) + rec('u3', ['d']));
  await writeFile(join(dir, 'now.out'), rec('u1', ['a', 'b']) + rec('u2', ['e']) + rec('u4', ['f']));
  const out = join(dir, 'changed.csv');
  const removed = join(dir, 'removed.csv');
  const r = await cli([
    'export',
    join(dir, 'now.out'),
    '--since',
    join(dir, 'last.out'),
    '--removed',
    removed,
    '-o',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /since \S+last\.out: 1 new, 1 changed, 1 unchanged \(not written\), 1 removed \(in \S+removed\.csv\)/,
  );
  assert.deepEqual((await readFile(out, 'utf8')).split('\r\n'), [
    'userId,rank,itemId',
    'u2,1,e',
    'u4,1,f',
    '',
  ]);
  assert.equal(await readFile(removed, 'utf8'), 'userId\r\nu3\r\n');
  const j = await cli([
    'export',
    join(dir, 'now.out'),
    '--since',
    out,
    '--removed',
    removed,
    '-o',
    out,
    '--json',
  ]);
  assert.equal(j.code, 2, 'the output may not be PREV');
  assert.match(
    j.stderr,
    /changed\.csv: is also an input \(PREV \S+changed\.csv\): writing the output there would replace what is being read/,
  );
  assert.deepEqual((await readFile(out, 'utf8')).split('\r\n'), [
    'userId,rank,itemId',
    'u2,1,e',
    'u4,1,f',
    '',
  ]);
  const help = await cli(['export', '--help']);
  assert.match(help.stdout, /--since PREV/);
  assert.match(help.stdout, /--since last\/recs\.csv --removed removed\.csv/);
});

/**
 * The lines --since keeps are skipped as the export reads (no file of them
 * any more): the result must equal the export of a file holding exactly the
 * kept lines, as the first version wrote it (each kept line and its CR, then
 * LF), whatever the pieces, the threads, CRLF, blank lines, error lines and
 * a last line without LF.
 */
test('--since equals the plain export of the kept lines, on random inputs and pieces', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pb-delta-keep-'));
  let x = 99;
  const rnd = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
  for (let round = 0; round < 6; round++) {
    const prevLines: string[] = [];
    const curLines: string[] = [];
    const kept: string[] = [];
    for (let u = 0; u < 40 + rnd(120); u++) {
      const key = u % 5 === 0 ? `Zoë ${u}` : `u${u}`;
      const items = Array.from({ length: 1 + rnd(5) }, () => `i${rnd(30)}`);
      const r = { items, scores: items.map(() => rnd(100) / 100) };
      const c = rnd(6);
      if (c !== 0) prevLines.push(line(key, r));
      let text: string | undefined;
      if (c === 1) continue;
      if (c === 2) text = line(key, { items: ['z', ...items], scores: [0, ...r.scores] });
      else if (c === 3) text = `{"input":{"userId":${JSON.stringify(key)}},"output":null,"error":"e${u}"}`;
      else text = line(key, r);
      const eol = rnd(3) === 0 ? '\r\n' : '\n';
      if (rnd(8) === 0) curLines.push(rnd(2) === 0 ? '' : ' \r');
      curLines.push(text + eol);
      if (c !== 4 && c !== 5) kept.push(text + (eol === '\r\n' ? '\r\n' : '\n'));
    }
    let cur = curLines.map((l) => (l.endsWith('\n') ? l : `${l}\n`)).join('');
    // Sometimes the last line has no LF.
    if (round % 3 === 0) cur = cur.slice(0, cur.endsWith('\r\n') ? -2 : -1);
    const prev = join(dir, `prev-${round}.out`);
    const curFile = join(dir, `cur-${round}.out`);
    const keptFile = join(dir, `kept-${round}.out`);
    await writeFile(prev, prevLines.join('\n'));
    await writeFile(curFile, cur);
    await writeFile(keptFile, kept.join(''));
    const format = (['csv-long', 'csv-wide', 'jsonl'] as const)[round % 3];
    const pieceSize = [1, 7, 300, 4096][rnd(4)] as number;
    // 1-byte pieces on this thread: on the workers each is a message, seconds of the suite for no other path.
    const workers = pieceSize === 1 ? 0 : rnd(3);
    const common = { format, pieceSize, workers, top: round % 4 === 1 ? 2 : undefined };
    const want = await exportOutputs({
      ...common,
      sources: [keptFile],
      output: join(dir, `want-${round}`),
      errors: join(dir, `want-err-${round}`),
    });
    const got = await exportOutputs({
      ...common,
      sources: [curFile],
      output: join(dir, `got-${round}`),
      errors: join(dir, `got-err-${round}`),
      since: prev,
      removed: join(dir, `removed-${round}.csv`),
    });
    const what = `round ${round}, ${format}, pieces of ${pieceSize}, ${workers} workers`;
    assert.equal(
      await readFile(join(dir, `got-${round}`), 'utf8'),
      await readFile(join(dir, `want-${round}`), 'utf8'),
      what,
    );
    assert.equal(
      existsSync(join(dir, `got-err-${round}`)) && (await readFile(join(dir, `got-err-${round}`), 'utf8')),
      existsSync(join(dir, `want-err-${round}`)) && (await readFile(join(dir, `want-err-${round}`), 'utf8')),
      what,
    );
    assert.equal(got.lines, want.lines, what);
    assert.equal(got.bytesRead, want.bytesRead, what);
    assert.ok((got.since?.changed ?? 0) > 0 && (got.since?.unchanged ?? 0) > 0, what);
  }
});
