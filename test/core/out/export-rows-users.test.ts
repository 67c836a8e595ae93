import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Catalog } from '../../../src/core/catalog.js';
import { type ConvertConfig, Converter, type UserGroupPass } from '../../../src/core/out-convert.js';
import {
  CONVERT_BASE,
  convertPieces,
  prng,
  randomId,
  randomLine,
  randomScore,
  recommendationsLayout,
  serviceLine,
  wholeLinePieces,
} from '../../out-fixtures.js';

// export-rows.wat's users join (the `user` import, the passes of a join on
// disk) against the JavaScript converter: the same rows, counts, error and
// invalid lines, on random lines, users, groups and chunkings.

const KEYS = ['u1', 'u2', 'Zoë', '=u3', 'a,b', '日本', 'u4', 'u5', 'u6', 'u7', '😀', ''];
const VALUES = [
  '',
  'x',
  'a,b',
  'say "hi"',
  '=1+2',
  '-3',
  '@me',
  'Zoë',
  '日本語のテキスト',
  'line\nbreak',
  '\ttab',
];

function pickKey(rand: () => number): string {
  return rand() < 0.7 ? (KEYS[Math.floor(rand() * KEYS.length)] as string) : randomId(rand, false);
}

function randomPiece(rand: () => number, lines: number): string {
  const out: string[] = [];
  for (let i = 0; i < lines; i++) {
    const r = rand();
    let line: string;
    if (r < 0.7) {
      const ids = Array.from({ length: Math.floor(rand() * 6) }, () => randomId(rand, false));
      const scores = rand() < 0.2 ? undefined : ids.map(() => randomScore(rand));
      line = serviceLine(pickKey(rand), ids, scores, rand() < 0.03 ? 'itemId' : 'userId');
      if (rand() < 0.1) {
        const b = Buffer.from(line);
        b[Math.floor(rand() * b.length)] = '"\\,:[]{}x'.charCodeAt(Math.floor(rand() * 9));
        line = b.toString('latin1');
      }
    } else if (r < 0.92)
      line = randomLine(rand, {
        kind: 'recommendations',
        keyField: 'userId',
        messy: rand() < 0.5,
        errorRate: 0.1,
      }).text;
    else line = rand() < 0.5 ? '' : serviceLine('u1', ['a']).slice(0, Math.floor(rand() * 40));
    out.push(line + (rand() < 0.3 ? '\r\n' : '\n'));
  }
  if (rand() < 0.5) out.push(serviceLine(pickKey(rand), ['z'], ['1']) + (rand() < 0.5 ? '\r' : ''));
  return out.join('');
}

/** A users table of some of KEYS (and random keys), values with quotes, guards, line breaks; cut at `cut` bytes. */
function randomUsers(rand: () => number, cfg: ConvertConfig, cut: number): Catalog {
  const users = new Catalog(['email', 'first_name'], cfg.format === 'jsonl', cfg.escapeFormulas, 1e9, cut);
  for (const key of [...KEYS, ...Array.from({ length: 20 }, () => randomId(rand, false))]) {
    if (rand() < 0.3) continue;
    const v = () => (rand() < 0.7 ? (VALUES[Math.floor(rand() * VALUES.length)] as string) : randomId(rand));
    users.add(key, [v(), v()]);
  }
  return users;
}

function convertAll(
  cfg: ConvertConfig,
  users: Catalog,
  passes: (UserGroupPass | undefined)[],
  pieces: Buffer[],
  wasm: boolean,
) {
  const c = new Converter(cfg, undefined, users, undefined, wasm);
  return passes.map((pass) => {
    c.setPass(pass);
    return convertPieces(c, pieces);
  });
}

const base: ConvertConfig = { ...CONVERT_BASE, crlf: false, userColumns: ['email', 'first_name'] };

test('a users join in WebAssembly: the JavaScript rows, counts and lines, held whole or a group per pass', () => {
  const rand = prng(7);
  const settings: Partial<ConvertConfig & { score: boolean }>[] = [
    { format: 'csv-long' },
    { format: 'csv-long', usersRequired: true, crlf: true, top: 2 },
    { format: 'csv-long', escapeFormulas: false, score: false },
    { format: 'csv-wide', width: 8 },
    { format: 'csv-wide', width: 3, optimistic: true, usersRequired: true },
    { format: 'jsonl' },
    { format: 'jsonl', usersRequired: true, score: false },
  ];
  for (let round = 0; round < 4; round++) {
    const pieces = wholeLinePieces(rand, Buffer.from(randomPiece(rand, 150)));
    // Three groups of users by the key's hash; the later passes with and without the key scan.
    const groupOf = Array.from({ length: 256 }, () => Math.floor(rand() * 3));
    const passes: (UserGroupPass | undefined)[][] = [
      [undefined],
      [
        { groupOf, group: 0, first: true, scan: true },
        { groupOf, group: 1, first: false, scan: true },
        { groupOf, group: 2, first: false, scan: round % 2 === 0 },
      ],
    ];
    for (const { score = true, ...set } of settings) {
      const cfg: ConvertConfig = { ...base, ...set, layout: recommendationsLayout(score) };
      const users = randomUsers(rand, cfg, round === 1 ? 4 : 0);
      // Only the module asks lookupHashed: its calls show the join took the WebAssembly path.
      let asked = 0;
      const lookup = users.lookupHashed.bind(users);
      users.lookupHashed = (buf, s, e, h) => {
        asked++;
        return lookup(buf, s, e, h);
      };
      for (const p of passes) {
        const js = convertAll(cfg, users, p, pieces, false);
        assert.equal(asked, 0);
        assert.deepEqual(convertAll(cfg, users, p, pieces, true), js, JSON.stringify({ cfg, round }));
        assert.ok(asked > 0, 'the module wrote rows');
        asked = 0;
      }
    }
  }
});

test('the join in WebAssembly writes rows (the test above compares something)', () => {
  const cfg: ConvertConfig = { ...base, layout: recommendationsLayout(true) };
  const users = new Catalog(['email', 'first_name'], false, true, 1e9, 0);
  users.add('u1', ['a@x', 'A']);
  const piece = Buffer.from(
    `${serviceLine('u1', ['i1', 'i2'], ['1', '2'])}\n${serviceLine('u9', ['i3'], ['3'])}\n`,
  );
  const r = convertAll(cfg, users, [undefined], [piece], true)[0]?.[0];
  assert.equal(r?.out, 'u1,1,i1,1,a@x,A\nu1,2,i2,2,a@x,A\nu9,1,i3,3,,\n');
  assert.equal(r?.usersMissing, 1);
});
