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
