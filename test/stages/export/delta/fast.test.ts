import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { SINCE_TABLE } from '../../../../src/stages/export/delta/fast.js';
import { PREV_SPLIT } from '../../../../src/stages/export/delta/prev-table.js';
import { type ExportOptions, exportOutputs } from '../../../../src/stages/export/index.js';

/**
 * The table path (fast.ts) against the partition path on random inputs:
 * the same output, REMOVED, errors file, summary and failure, for every
 * PREV format, --since-scores, --top, small budgets, pieces and threads,
 * and the odd lines (blank, CRLF, error lines, escaped keys, lines the
 * batch scan refuses, keys twice, invalid lines, another recipe).
 */

function rng(seed: number): (n: number) => number {
  let x = seed;
  return (n) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % n;
  };
}

function outLine(key: string, items: string[], scores: number[] | undefined, field = 'userId'): string {
  const output = scores ? { recommendedItems: items, scores } : { recommendedItems: items };
  return JSON.stringify({ input: { [field]: key }, output, error: null });
}

interface Inputs {
  prev: string[];
  cur: string[];
  /** Lines that make both paths fail (the test expects the same failure). */
  odd: boolean;
}

/** Keys with escapes, quotes, commas and formula starts; every kind of line the sources may hold. */
function inputs(rnd: (n: number) => number, round: number): Inputs {
  const prev: string[] = [];
  const cur: string[] = [];
  const n = 30 + rnd(200);
  for (let u = 0; u < n; u++) {
    const key = u % 9 === 0 ? `=u"${u},é` : u % 11 === 0 ? `Zoë ${u}` : `u${u}`;
    const items = Array.from({ length: rnd(5) }, () => `i${rnd(20)}`);
    const scores = rnd(4) === 0 ? undefined : items.map(() => rnd(100) / 100);
    const c = rnd(7);
    if (c !== 0) prev.push(outLine(key, items, scores));
    if (rnd(12) === 0) prev.push(`{"input":{"userId":"e${u}"},"output":null,"error":"x"}`);
    if (c === 1) continue;
    let text: string;
    if (c === 2) text = outLine(key, [...items].reverse().concat('z'), scores && [...scores, 0]);
    else if (c === 3)
      text = outLine(
        key,
        items,
        scores?.map((s) => s + 0.5),
      );
    else if (c === 4) text = `{"input":{"userId":${JSON.stringify(key)}},"output":null,"error":"e${u}"}`;
    // Valid, but not the batch scan's shape: spaces, an escaped key.
    else if (c === 5) text = outLine(key, items, scores).replace('"output":', '"output" : ');
    else if (c === 6 && key === `u${u}`) text = outLine(`\\u0075${u}`, items, scores).replace('\\\\', '\\');
    else text = outLine(key, items, scores);
    if (rnd(10) === 0) cur.push(rnd(2) === 0 ? '' : ' \r');
    cur.push(text + (rnd(3) === 0 ? '\r' : ''));
  }
  // Now and then a line either path stops at.
  let odd = false;
  if (round % 5 === 4) {
    const what = Math.floor(round / 5) % 4;
    odd = true;
    if (what === 0) cur.splice(rnd(cur.length), 0, cur[rnd(cur.length)] ?? 'x');
    else if (what === 1) cur.splice(rnd(cur.length), 0, '{"input":{"userId":"bad"},"output":{');
    else if (what === 2) cur.splice(rnd(cur.length), 0, outLine('k-item', ['a'], undefined, 'itemId'));
    // PREV's first key again at its end: in the other half when a worker reads the second.
    else prev.push(outLine('spacer', ['s'], undefined), prev[0] ?? 'x');
  }
  return { prev, cur, odd };
}

/** The summary (its time aside) or the failure's message, by the table path or the partition path. */
async function run(o: ExportOptions, table: boolean): Promise<string> {
  SINCE_TABLE.enabled = table;
  try {
    return JSON.stringify({ ...(await exportOutputs(o)), seconds: 0 });
  } catch (err) {
    return `failed: ${(err as Error).message}`;
  } finally {
    SINCE_TABLE.enabled = true;
  }
}

/**
 * Rounds of random inputs and settings, each exported by both paths; the
 * table path's count. `workers`: every round on conversion workers, where
 * the converter decides each line as it writes it (export-rows.wat asks
 * LineFilter), with no odd line and no --since-scores (that path's
 * conditions), PREV as a `.out`.
 */
async function compareRounds(seed: number, rounds: number, workers: boolean): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'pb-since-table-'));
  const rnd = rng(seed);
  let taken = 0;
  for (let round = 0; round < rounds; round++) {
    const { prev, cur, odd } = inputs(rnd, workers ? 0 : round);
    const prevOut = join(dir, `prev-${round}.out`);
    await writeFile(prevOut, prev.join('\n'));
    const curFile = join(dir, `cur-${round}.out`);
    let curText = `${cur.join('\n')}\n`;
    if (round % 3 === 0) curText = curText.slice(0, -1);
    await writeFile(curFile, curText);
    const prevFormat =
      workers || round % 2 === 1 ? 'out' : (['out', 'csv-long', 'csv-wide', 'jsonl', 'gz'] as const)[rnd(5)];
    let since = prevOut;
    if (prevFormat === 'gz') {
      since = `${prevOut}.gz`;
      await writeFile(since, gzipSync(await readFile(prevOut)));
    } else if (prevFormat !== 'out') {
      since = join(dir, `prev-${round}.${prevFormat}`);
      const made = await exportOutputs({ sources: [prevOut], output: since, format: prevFormat }).catch(
        () => undefined,
      );
      if (!made) since = prevOut;
    }
    // Every other round a `.out` PREV is read on two threads (a worker places its keys beside this
    // thread's), in parts each takes in turn (down to a line), or as they come (parts of at least 200
    // bytes, or the default, in which this thread reads a small PREV whole before the worker runs).
    PREV_SPLIT.from = round % 2 === 1 ? 1 : 8 * 1024 * 1024;
    const split = round % 2 === 1 ? (round >> 1) % 3 : -1;
    PREV_SPLIT.alternate = split === 0;
    PREV_SPLIT.part = split === 0 ? 1 : split === 1 ? 200 : 32 * 1024 * 1024;
    const pieceSize = workers ? 200 + rnd(400) : ([7, 300, 4096][rnd(3)] as number);
    const o: ExportOptions = {
      sources: [curFile],
      format: (['csv-long', 'csv-wide', 'jsonl'] as const)[rnd(3)],
      pieceSize,
      workers: workers || round % 2 === 1 ? 1 + rnd(2) : pieceSize === 7 ? 0 : rnd(3),
      top: rnd(4) === 0 ? 2 : undefined,
      since,
      sinceScores: !workers && rnd(3) === 0,
      memoryBudget: workers ? undefined : [undefined, 16384, 4096, 600][rnd(4)],
    };
    const results: string[] = [];
    for (const table of [true, false]) {
      const out = join(dir, `out-${round}-${table}`);
      const removed = join(dir, `removed-${round}-${table}.csv`);
      const errors = join(dir, `errors-${round}-${table}.jsonl`);
      for (const f of [out, removed, errors]) await rm(f, { force: true });
      const before = SINCE_TABLE.taken;
      const got = await run({ ...o, output: out, removed, errors }, table);
      if (table && SINCE_TABLE.taken > before) taken++;
      // The files' bytes, by name without the path's variant.
      const texts: string[] = [];
      for (const f of [out, removed, errors])
        texts.push(existsSync(f) ? (await readFile(f)).toString('latin1') : 'none');
      results.push(`${got}\n${texts.join('\n--\n')}`.replaceAll(`-${table}`, ''));
    }
    const what = `round ${round}: PREV ${prevFormat}, ${JSON.stringify({ ...o, sources: undefined, since: undefined })}`;
    assert.equal(results[0], results[1], what);
    if (!odd) assert.ok(!results[0]?.startsWith('failed'), what);
  }
  PREV_SPLIT.from = 8 * 1024 * 1024;
  PREV_SPLIT.alternate = false;
  PREV_SPLIT.part = 32 * 1024 * 1024;
  await rm(dir, { recursive: true, force: true });
  return taken;
}

test('the table path writes what the partition path writes, on random inputs, formats and settings', async () => {
  // 10 rounds (20 before the workers' own test below took its share): the suite is at its 5 minutes.
  const split = PREV_SPLIT.split;
  const parts = PREV_SPLIT.parts;
  const taken = await compareRounds(7, 10, false);
  // Most rounds must have gone the table's way, or the comparison tests nothing; some with PREV on two
  // threads, the worker reading several parts of it.
  assert.ok(taken >= 4, `the table path was taken ${taken} times`);
  assert.ok(PREV_SPLIT.split - split >= 1, `PREV was split ${PREV_SPLIT.split - split} times`);
  assert.ok(PREV_SPLIT.parts - parts >= 4, `the worker read ${PREV_SPLIT.parts - parts} parts`);
});

test('conversion workers deciding each line as they write it give the partition path bytes', async () => {
  const split = PREV_SPLIT.split;
  const taken = await compareRounds(11, 3, true);
  assert.ok(taken >= 3, `the table path was taken ${taken} times`);
  assert.ok(PREV_SPLIT.split - split >= 1, `PREV was split ${PREV_SPLIT.split - split} times`);
});

test('a line whose scores are no JSON numbers stops both paths alike, kept or dropped, --on-invalid skip or not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pb-since-scores-'));
  const line = (key: string, items: string, scores: string) =>
    `{"input":{"userId":"${key}"},"output":{"recommendedItems":[${items}],"scores":[${scores}]},"error":null}`;
  const prev = [
    line('a', '"1","2"', '0.5,0.25'),
    line('b', '"1","2"', '1E+5,-0.5e-3'),
    line('c', '"3"', '0'),
  ];
  await writeFile(join(dir, 'prev.out'), `${prev.join('\n')}\n`);
  // Scores the batch scan only counts where the cut reads lines (filter.ts), on a kept line (a's ids
  // changed) and on a dropped one (b's unchanged): each must fail as the partition path fails.
  const bad = [
    '0.5,01',
    '0.5,1.',
    '.5,0.5',
    '0.5,1e',
    '0.5,+1',
    '0.5,1/2',
    '0.5,0.1,0.2',
    '0.5,-',
    '1E+5,-0.5e-3',
  ];
  const cases = bad.flatMap((s) => [
    [line('a', '"2","1"', s), line('b', '"1","2"', '1E+5,-0.5e-3')],
    [line('a', '"1","2"', '0.5,0.25'), line('b', '"1","2"', s)],
  ]);
  let failed = 0;
  const taken = SINCE_TABLE.taken;
  for (const [i, cur] of cases.entries()) {
    await writeFile(join(dir, 'cur.out'), `${cur.join('\n')}\n${line('c', '"3"', '0')}\n`);
    for (const skip of [false, true]) {
      const results: string[] = [];
      for (const table of [true, false]) {
        const out = join(dir, `out-${table}.csv`);
        const rejects = join(dir, `rejects-${table}.txt`);
        const removed = join(dir, `removed-${table}.csv`);
        for (const f of [out, rejects, removed]) await rm(f, { force: true });
        const o: ExportOptions = {
          sources: [join(dir, 'cur.out')],
          output: out,
          since: join(dir, 'prev.out'),
          removed,
          ...(skip ? { onInvalid: 'skip', rejects } : {}),
        };
        const got = await run(o, table);
        const texts: string[] = [];
        for (const f of [out, rejects, removed])
          texts.push(existsSync(f) ? await readFile(f, 'latin1') : 'none');
        results.push(`${got}\n${texts.join('\n--\n')}`.replaceAll(`-${table}`, ''));
      }
      assert.equal(results[0], results[1], `case ${i}${skip ? ', --on-invalid skip' : ''}: ${cases[i]}`);
      if (results[0]?.startsWith('failed')) failed++;
    }
  }
  // Every case but the last score list's (valid) fails; those went the table's way.
  assert.equal(failed, (cases.length - 2) * 2);
  assert.equal(SINCE_TABLE.taken - taken, 4);
  await rm(dir, { recursive: true, force: true });
});

test('every PREV key seen, or all but one: the table path says what the partition path says, with or without its pass over the table', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pb-since-seen-'));
  const error = (key: string) => `{"input":{"userId":"${key}"},"output":null,"error":"x"}`;
  const prev = [
    outLine('a', ['1', '2'], [0.5, 0.25]),
    outLine('b', ['3'], [1]),
    outLine('c', ['4'], undefined),
  ];
  // [PREV's format, the sources' lines]: every key seen (changed, unchanged, new); one seen only by
  // an error line (failed, not removed); one gone while a new key with no ids counts as unchanged
  // against a csv-long PREV (counted, yet no PREV key marked).
  const cases: [string, string[]][] = [
    [
      'out',
      [outLine('a', ['2', '1'], [0.5, 0.25]), outLine('b', ['3'], [1]), outLine('c', ['4'], undefined)],
    ],
    [
      'out',
      [
        outLine('x', ['9'], [1]),
        outLine('c', ['5'], undefined),
        outLine('b', ['3'], [1]),
        outLine('a', ['1'], [1]),
      ],
    ],
    ['out', [outLine('a', ['2', '1'], [0.5, 0.25]), error('b'), outLine('c', ['4'], undefined)]],
    [
      'out',
      [
        error('a'),
        outLine('a', ['2', '1'], [0.5, 0.25]),
        outLine('b', ['3'], [1]),
        outLine('c', ['4'], undefined),
      ],
    ],
    ['out', [outLine('a', ['1', '2'], [0.5, 0.25]), outLine('c', ['4'], undefined)]],
    [
      'csv-long',
      [outLine('a', ['2', '1'], [0.5, 0.25]), outLine('x', [], []), outLine('c', ['4'], undefined)],
    ],
  ];
  await writeFile(join(dir, 'prev.out'), `${prev.join('\n')}\n`);
  await exportOutputs({
    sources: [join(dir, 'prev.out')],
    output: join(dir, 'prev.csv'),
    format: 'csv-long',
  });
  const taken = SINCE_TABLE.taken;
  for (const [i, [format, cur]] of cases.entries()) {
    await writeFile(join(dir, 'cur.out'), `${cur.join('\n')}\n`);
    for (const workers of [0, 1]) {
      const results: string[] = [];
      for (const table of [true, false]) {
        const out = join(dir, `out-${table}.csv`);
        const removed = join(dir, `removed-${table}.csv`);
        for (const f of [out, removed]) await rm(f, { force: true });
        const got = await run(
          {
            sources: [join(dir, 'cur.out')],
            output: out,
            since: join(dir, format === 'out' ? 'prev.out' : 'prev.csv'),
            removed,
            workers,
            pieceSize: 150,
          },
          table,
        );
        const texts: string[] = [];
        for (const f of [out, removed]) texts.push(existsSync(f) ? await readFile(f, 'latin1') : 'none');
        results.push(`${got}\n${texts.join('\n--\n')}`.replaceAll(`-${table}`, ''));
      }
      assert.equal(results[0], results[1], `case ${i}, ${workers} workers`);
      assert.ok(!results[0]?.startsWith('failed'), results[0]);
    }
  }
  assert.equal(SINCE_TABLE.taken - taken, cases.length * 2);
  await rm(dir, { recursive: true, force: true });
});

test("PREV read in parts by both threads in turn: REMOVED in PREV's order, as the partition path writes it", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pb-since-parts-'));
  // 2,900 of 3,000 users gone: about a dozen to each of REMOVED's 256 partitions, each in PREV's order.
  const prev = Array.from({ length: 3000 }, (_, u) => outLine(`u${u}`, [`i${u % 7}`], [0.5]));
  await writeFile(join(dir, 'prev.out'), `${prev.join('\n')}\n`);
  await writeFile(join(dir, 'cur.out'), `${prev.slice(0, 100).join('\n')}\n`);
  Object.assign(PREV_SPLIT, { from: 1, part: 1, alternate: true });
  const parts = PREV_SPLIT.parts;
  const taken = SINCE_TABLE.taken;
  try {
    const removed: string[] = [];
    for (const table of [true, false]) {
      const o: ExportOptions = {
        sources: [join(dir, 'cur.out')],
        format: 'csv-long',
        workers: 1,
        pieceSize: 4096,
        since: join(dir, 'prev.out'),
        output: join(dir, `out-${table}.csv`),
        removed: join(dir, `removed-${table}.csv`),
      };
      assert.ok(!(await run(o, table)).startsWith('failed'));
      removed.push(await readFile(join(dir, `removed-${table}.csv`), 'utf8'));
    }
    assert.equal(SINCE_TABLE.taken - taken, 1, 'the table path was taken');
    assert.ok(PREV_SPLIT.parts - parts >= 8, `the worker read ${PREV_SPLIT.parts - parts} parts`);
    assert.equal(removed[0]?.split('\n').length, 2902);
    assert.equal(removed[0], removed[1]);
  } finally {
    Object.assign(PREV_SPLIT, { from: 8 * 1024 * 1024, part: 32 * 1024 * 1024, alternate: false });
    await rm(dir, { recursive: true, force: true });
  }
});
