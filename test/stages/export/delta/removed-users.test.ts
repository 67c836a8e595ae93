import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { SINCE_TABLE } from '../../../../src/stages/export/delta/fast.js';
import { type ExportOptions, exportOutputs } from '../../../../src/stages/export/index.js';

/**
 * REMOVED with --users (removed-users.ts): the gone keys joined to the users
 * file, held to an oracle computed here (PREV's keys the sources lack, in
 * REMOVED's own order, each with its first row in the users file), in one
 * round and in many (a small --memory-budget), on a CRM file with the
 * things CRM exports hold (BOM, CRLF, `;`, quoted commas and line breaks,
 * formula starts, repeated and missing keys).
 */

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function outLine(key: string, items: string[]): string {
  const output = { recommendedItems: items, scores: items.map((_, i) => 0.5 - i / 10) };
  return JSON.stringify({ input: { userId: key }, output, error: null });
}

function key(u: number): string {
  return u % 7 === 0 ? `=u${u}` : u % 5 === 0 ? `u,${u}` : u % 3 === 0 ? `Zoë ${u}` : `u${u}`;
}

function quoted(v: string): string {
  return /[";\r\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

interface Case {
  dir: string;
  prev: string;
  cur: string;
  crm: string;
  /** The users file's first row per key: [email, first_name, score]. */
  rows: Map<string, string[]>;
  gone: Set<string>;
}

async function makeCase(n: number): Promise<Case> {
  const dir = await mkdtemp(join(tmpdir(), 'pb-removed-users-'));
  dirs.push(dir);
  const prev: string[] = [];
  const cur: string[] = [];
  const gone = new Set<string>();
  for (let u = 0; u < n; u++) {
    prev.push(outLine(key(u), ['a', 'b']));
    if (u % 4 === 0) gone.add(key(u));
    else cur.push(outLine(key(u), u % 2 ? ['a', 'b'] : ['b', 'a']));
  }
  const rows = new Map<string, string[]>();
  let crm = '\uFEFFcustomer_id;email;first_name;score\r\n';
  for (let u = 0; u < n + 10; u++) {
    if (u % 13 === 1) continue; // a user the file lacks
    const values = [
      u % 6 === 0 ? `=cmd|${u}` : `${key(u)}@example.com`,
      u % 8 === 0 ? `Smith, "Jo"\nline ${u}` : `Zoë ${u}`,
      String(u),
    ];
    if (!rows.has(key(u))) rows.set(key(u), values);
    crm += `${[key(u), ...values].map(quoted).join(';')}\r\n`;
    // A repeated key: the first row wins.
    if (u % 9 === 0) crm += `${[key(u), 'later@example.com', 'Later', '0'].map(quoted).join(';')}\r\n`;
  }
  await writeFile(join(dir, 'prev.out'), `${prev.join('\n')}\n`);
  await writeFile(join(dir, 'cur.out'), `${cur.join('\n')}\n`);
  await writeFile(join(dir, 'crm.csv'), crm);
  return {
    dir,
    prev: join(dir, 'prev.out'),
    cur: join(dir, 'cur.out'),
    crm: join(dir, 'crm.csv'),
    rows,
    gone,
  };
}

/** What a spreadsheet shows for a cell the export guarded: the value with its ' dropped. */
function unguard(v: string): string {
  return /^'[=+\-@]/.test(v) ? v.slice(1) : v;
}

async function run(c: Case, extra: Partial<ExportOptions>, name: string) {
  const removed = join(c.dir, `${name}-removed.csv`);
  const s = await exportOutputs({
    sources: [c.cur],
    output: join(c.dir, `${name}-out.csv`),
    format: 'csv-long',
    since: c.prev,
    removed,
    users: c.crm,
    userKey: 'customer_id',
    userFields: ['email', 'first_name', 'score'],
    ...extra,
  });
  return { s, bytes: await readFile(removed) };
}

test('REMOVED holds the users file columns of each gone key: first row wins, missing keys empty and counted', async () => {
  const c = await makeCase(120);
  const { s, bytes } = await run(c, { rename: { email: 'Email Address' } }, 'one');
  const rows = parse(bytes, { relax_column_count: false }) as string[][];
  // Named as the export names them: renamed, and `score` prefixed (the export has its own score).
  assert.deepEqual(rows[0], ['userId', 'Email Address', 'first_name', 'user_score']);
  const body = rows.slice(1);
  assert.deepEqual(new Set(body.map((r) => unguard(r[0] as string))), c.gone);
  assert.equal(body.length, c.gone.size);
  let missing = 0;
  for (const r of body) {
    const want = c.rows.get(unguard(r[0] as string));
    if (!want) missing++;
    assert.deepEqual(r.slice(1).map(unguard), want ?? ['', '', ''], `row of ${r[0]}`);
    // The formula guard applies to REMOVED's cells as to the export's.
    if (want?.[0]?.startsWith('=')) assert.ok(r[1]?.startsWith("'="), r[1]);
  }
  assert.ok(missing > 0, 'the fixture has gone keys the users file lacks');
  assert.deepEqual(s.since?.removedUsers, {
    columns: ['Email Address', 'first_name', 'user_score'],
    missing,
    fromPrev: 0,
  });
  assert.ok(s.warnings.some((w) => w.startsWith(`${missing} removed keys are not in the users file`)));
  assert.equal(s.since?.removed, c.gone.size);
});

test('many rounds (a small --memory-budget) give the same REMOVED as one; jsonl names the columns as its fields', async () => {
  const c = await makeCase(400);
  const one = await run(c, {}, 'big');
  const many = await run(c, { memoryBudget: 8 * 1024 }, 'small');
  assert.equal(many.bytes.toString(), one.bytes.toString());
  const jsonl = await run(c, { format: 'jsonl', output: join(c.dir, 'o.jsonl') }, 'jsonl');
  // JSON Lines records have no score field of their own (their items hold the scores): no prefix.
  const head = jsonl.bytes.toString().split('\r\n')[0];
  assert.equal(head, 'userId,email,first_name,score');
  // The same rows under another header.
  assert.equal(
    jsonl.bytes.toString().split('\r\n').slice(1).join('\n'),
    one.bytes.toString().split('\r\n').slice(1).join('\n'),
  );
});

test('--bom: REMOVED starts with the BOM as the export does, without --users (its own path) and with them', async () => {
  const c = await makeCase(40);
  const bom = [0xef, 0xbb, 0xbf];
  const removed = join(c.dir, 'bom-removed.csv');
  await exportOutputs({
    sources: [c.cur],
    output: join(c.dir, 'bom-out.csv'),
    since: c.prev,
    removed,
    bom: true,
  });
  const keys = await readFile(removed);
  assert.deepEqual([...keys.subarray(0, 3)], bom);
  assert.equal(keys.subarray(3).toString().split('\r\n')[0], 'userId');
  const withUsers = await run(c, { bom: true }, 'bom-users');
  assert.deepEqual([...withUsers.bytes.subarray(0, 3)], bom);
  // Nothing else changes: the same rows as without --bom.
  assert.equal(withUsers.bytes.subarray(3).toString(), (await run(c, {}, 'no-bom')).bytes.toString());
});

test('REMOVED ends its lines as the export does: --line-ending lf on the table path, the partition path and with --users', async () => {
  const c = await makeCase(60);
  const plain = { users: undefined, userKey: undefined, userFields: undefined };
  const cases: [string, Partial<ExportOptions>][] = [
    ['table', plain],
    ['partitions', plain],
    ['users', {}],
  ];
  for (const [name, extra] of cases) {
    // The partition path, as when PREV's keys do not fit the budget; --users always takes it.
    SINCE_TABLE.enabled = name !== 'partitions';
    const taken = SINCE_TABLE.taken;
    const lf = (await run(c, { ...extra, lineEnding: 'lf' }, `${name}-lf`)).bytes.toString();
    const crlf = (await run(c, extra, `${name}-crlf`)).bytes.toString();
    SINCE_TABLE.enabled = true;
    assert.equal(SINCE_TABLE.taken - taken, name === 'table' ? 2 : 0, `${name}: the path taken`);
    assert.ok(!lf.includes('\r'), `${name}: ${JSON.stringify(lf.slice(0, 80))}`);
    assert.ok(crlf.includes('\r\n'), name);
    assert.equal(lf, crlf.replaceAll('\r\n', '\n'), name);
  }
});

test('--users-required: a PREV user the users file no longer has is removed, as the full export drops it; the rest as the full exports say', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pb-removed-required-'));
  dirs.push(dir);
  const n = 90;
  const week1: string[] = [];
  const week2: string[] = [];
  for (let u = 0; u < n + 8; u++) {
    if (u < n) week1.push(outLine(key(u), ['a', 'b']));
    if (u % 4 !== 0) week2.push(outLine(key(u), u % 2 ? ['a', 'b'] : ['b', 'a']));
  }
  // Week 2's users file lacks some users of both weeks (changed, unchanged, new) and a user only in it.
  const crm = (lacks: (u: number) => boolean) => {
    let text = '\uFEFFcustomer_id;email\r\n';
    for (let u = 0; u < n + 12; u++)
      if (!lacks(u)) text += `${[key(u), `${key(u)}@example.com`].map(quoted).join(';')}\r\n`;
    return text;
  };
  const files = {
    w1: join(dir, 'w1.out'),
    w2: join(dir, 'w2.out'),
    crm1: join(dir, 'crm1.csv'),
    crm2: join(dir, 'crm2.csv'),
  };
  await writeFile(files.w1, `${week1.join('\n')}\n`);
  await writeFile(files.w2, `${week2.join('\n')}\n`);
  await writeFile(
    files.crm1,
    crm(() => false),
  );
  await writeFile(
    files.crm2,
    crm((u) => u % 3 === 1 || u === n + 2),
  );
  const exp = async (src: string, users: string, name: string, extra: Partial<ExportOptions> = {}) => {
    const output = join(dir, `${name}.csv`);
    const s = await exportOutputs({
      sources: [src],
      output,
      format: 'csv-long',
      users,
      userKey: 'customer_id',
      userFields: ['email'],
      usersRequired: true,
      ...extra,
    });
    const rows = (parse(await readFile(output)) as string[][]).slice(1);
    const byKey = new Map<string, string>();
    for (const r of rows)
      byKey.set(unguard(r[0] as string), `${byKey.get(unguard(r[0] as string)) ?? ''}${r.join('|')}\n`);
    return { s, byKey };
  };
  const full1 = await exp(files.w1, files.crm1, 'full1');
  const full2 = await exp(files.w2, files.crm2, 'full2');
  const removedFile = join(dir, 'removed.csv');
  const delta = await exp(files.w2, files.crm2, 'delta', {
    since: join(dir, 'full1.csv'),
    removed: removedFile,
  });
  const gone = [...full1.byKey.keys()].filter((k) => !full2.byKey.has(k));
  const removed = (parse(await readFile(removedFile)) as string[][])
    .slice(1)
    .map((r) => unguard(r[0] as string));
  assert.deepEqual(new Set(removed), new Set(gone));
  assert.equal(removed.length, gone.length);
  // Gone from the users file while still in the sources: the case this test is for.
  assert.ok(
    gone.some((k) => week2.some((l) => l.includes(JSON.stringify(k)))),
    'a removed user still has a line',
  );
  const written = [...full2.byKey].filter(([k, rows]) => full1.byKey.get(k) !== rows);
  assert.deepEqual(new Map(delta.byKey), new Map(written));
  assert.equal(delta.s.since?.removed, gone.length);
  assert.equal((delta.s.since?.new ?? 0) + (delta.s.since?.changed ?? 0), written.length);
  // The users file lacks them now: their e-mail address comes from PREV, the export that has it.
  const rows = parse(await readFile(removedFile)) as string[][];
  assert.deepEqual(rows[0], ['userId', 'email']);
  for (const r of rows.slice(1))
    assert.equal(unguard(r[1] as string), `${unguard(r[0] as string)}@example.com`);
  const ru = delta.s.since?.removedUsers;
  assert.ok(ru && ru.missing > 0 && ru.fromPrev === ru.missing, JSON.stringify(ru));
  assert.ok(delta.s.warnings.some((w) => w.includes('columns in') && w.includes("are PREV's")));
  // PREV as jsonl gives the same REMOVED; PREV as the .out files has no such column: empty cells.
  const jsonl = join(dir, 'full1.jsonl');
  await exportOutputs({
    sources: [files.w1],
    output: jsonl,
    format: 'jsonl',
    users: files.crm1,
    userKey: 'customer_id',
    userFields: ['email'],
    usersRequired: true,
  });
  const removedJ = join(dir, 'removed-j.csv');
  await exp(files.w2, files.crm2, 'delta-j', { since: jsonl, removed: removedJ });
  assert.deepEqual(await readFile(removedJ, 'utf8'), await readFile(removedFile, 'utf8'));
  const removedO = join(dir, 'removed-o.csv');
  const fromOut = await exp(files.w2, files.crm2, 'delta-o', { since: files.w1, removed: removedO });
  assert.equal(fromOut.s.since?.removedUsers?.fromPrev, 0);
  const oRows = (parse(await readFile(removedO)) as string[][]).slice(1);
  assert.ok(
    oRows.some((r) => r[1] === ''),
    'a key the users file lacks keeps empty cells',
  );
});
