import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { concatParts, exportOutputs } from '../../../src/stages/export/index.js';
import { useS3rver, useTmp } from '../../helpers.js';
import { REFERENCE } from '../../out-fixtures.js';

// export --part on an s3:// object against s3rver: ranged GETs cut at line
// ends give, joined, the rows of one process; a part that starts mid-object
// names its invalid lines URI@START with lines counted from there.

const tmp = useTmp();
const s3 = useS3rver();

function content(): string {
  const lines: string[] = [];
  for (let i = 0; i < 600; i++) {
    const end = i % 7 === 0 ? '\r\n' : '\n';
    if (i === 40 || i === 450) lines.push(`{"input":{"userId":"bad${i}"}${end}`);
    else if (i % 31 === 3) lines.push(REFERENCE.error + end);
    else
      lines.push(
        `{"input":{"userId":"u${i}"},"output":{"recommendedItems":["${'i'.repeat(i % 50)}${i}","b"],"scores":[0.5,0.25]},"error":null}${end}`,
      );
  }
  return lines.join('').replace(/\n$/, '');
}

test('an s3:// object in 3 parts by ranged GETs: joined, the rows and errors of one process', async () => {
  const text = content();
  await s3().client.send(new PutObjectCommand({ Bucket: 'bucket', Key: 'out/big.out', Body: text }));
  const local = tmp.fresh('big.out');
  await writeFile(local, text);
  const one = tmp.fresh('one.csv');
  await exportOutputs({
    sources: [local],
    output: one,
    onInvalid: 'skip',
    rejects: `${one}.rejects`,
    workers: 0,
  });
  const parts: string[] = [];
  let errors = '';
  const rejects: { file: string; line: number }[] = [];
  for (const k of [1, 2, 3]) {
    const out = tmp.fresh(`p${k}.csv`);
    const s = await exportOutputs({
      sources: ['s3://bucket/out/'],
      part: `${k}/3`,
      output: out,
      onInvalid: 'skip',
      rejects: `${out}.rejects`,
      pieceSize: 2048,
      workers: 0,
    });
    assert.equal(s.part?.mode, 'bytes');
    parts.push(out);
    errors += await readFile(`${out}.errors.jsonl`, 'utf8').catch(() => '');
    const rej = await readFile(`${out}.rejects`, 'utf8').catch(() => '');
    for (const l of rej.split('\n').filter(Boolean)) rejects.push(JSON.parse(l));
  }
  const joined = tmp.fresh('joined.csv');
  await concatParts({ parts, output: joined });
  assert.equal(await readFile(joined, 'utf8'), await readFile(one, 'utf8'));
  assert.equal(errors, await readFile(`${one}.errors.jsonl`, 'utf8'));
  // Each invalid line once; past byte 0 named URI@START, its line counted from the first line starting there.
  const expected = (await readFile(`${one}.rejects`, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { line: number }).line);
  assert.deepEqual(expected, [41, 451]);
  const absolute = rejects.map((r) => {
    const m = /^s3:\/\/bucket\/out\/big\.out(?:@(\d+))?$/.exec(r.file);
    assert.ok(m, r.file);
    const start = Number(m[1] ?? 0);
    const buf = Buffer.from(text);
    const from = start === 0 ? 0 : buf.indexOf(10, start - 1) + 1;
    let before = 0;
    for (let i = buf.indexOf(10); i !== -1 && i < from; i = buf.indexOf(10, i + 1)) before++;
    return before + r.line;
  });
  assert.deepEqual(absolute, expected);
  assert.ok(
    rejects.some((r) => r.file.includes('@')),
    'a part past byte 0 holds an invalid line',
  );
});
