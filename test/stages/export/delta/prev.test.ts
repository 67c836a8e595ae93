import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashBytes } from '../../../../src/core/byteset.js';
import { openSource } from '../../../../src/io/input.js';
import { type PartitionSet, partitionOf } from '../../../../src/io/spill.js';
import { DeltaKeys } from '../../../../src/stages/export/delta/keys.js';
import { readPrev } from '../../../../src/stages/export/delta/prev.js';
import { exportOutputs } from '../../../../src/stages/export/index.js';

// PREV's readers against re-chunked bytes: CRLF or LF, a UTF-8 BOM, keys and ids in several
// bytes a character, chunks of 1 byte and of random sizes: the same entries as the plain file.

/**
 * What readPrev writes to the partitions: key TAB payload (type, digest,
 * line), by partition and in order within each (a batch scan's lines come
 * grouped by partition, and chunks cut the batches elsewhere).
 */
async function entries(file: string, open?: (f: string) => AsyncIterable<Buffer>, scores = false) {
  const byPart: string[][] = Array.from({ length: 256 }, () => []);
  const line = (b: Uint8Array, s: number, e: number) => Buffer.from(b.subarray(s, e)).toString('latin1');
  const parts = {
    write(key: Uint8Array, ks: number, ke: number, h: number, p: Uint8Array, ps: number, pe: number) {
      byPart[partitionOf(h, 256)]?.push(`${line(key, ks, ke)}\t${line(p, ps, pe)}`);
      return undefined;
    },
    writeGrouped(src: Uint8Array, ends: Int32Array, recs: Int32Array, payload: number) {
      let from = 0;
      for (let i = 0; i < 256; i++) {
        const got = line(src, from, ends[i] as number)
          .split('\n')
          .slice(0, -1);
        assert.equal(got.length, recs[i]);
        for (const l of got) {
          assert.equal(l.length - l.indexOf('\t') - 1, payload);
          // The grouped line's partition is its key's.
          const key = Buffer.from(l.slice(0, l.indexOf('\t')), 'latin1');
          assert.equal(partitionOf(hashBytes(key, 0, key.length), 256), i);
          byPart[i]?.push(l);
        }
        from = ends[i] as number;
      }
      return undefined;
    },
  } as unknown as PartitionSet;
  const read = await readPrev(
    file,
    new DeltaKeys(parts, scores),
    { top: 0, escapeFormulas: true, maxLineLength: 1 << 20 },
    open,
  );
  return { read, got: byPart.flat() };
}

function rechunk(sizes: (n: number) => number): (f: string) => AsyncIterable<Buffer> {
  return async function* (f) {
    const chunks: Buffer[] = [];
    for await (const c of openSource(f)) chunks.push(c);
    const all = Buffer.concat(chunks);
    let i = 0;
    while (i < all.length) {
      const n = Math.max(1, sizes(i));
      yield Buffer.from(all.subarray(i, i + n));
      i += n;
    }
  };
}

function outLines(): string {
  const keys = ['Zoë', 'u1', '=x', 'a,"b"', '日本', 'é\u{1F600}', 'z'];
  return keys
    .map((k, i) =>
      JSON.stringify({
        input: { userId: k },
        output: {
          recommendedItems: [`i${i}`, 'Zoë', `ü${i}`, '€'].slice(0, 1 + (i % 4)),
          scores: [0.5, 0.25, 0.125, 0.1].slice(0, 1 + (i % 4)),
        },
        error: null,
      }),
    )
    .concat(['{"input":{"userId":"bad"},"output":null,"error":"x"}'])
    .join('\n');
}

for (const format of ['out', 'csv-long', 'csv-wide', 'jsonl'] as const) {
  test(`a ${format} PREV: CRLF, LF, a BOM, 1-byte and random chunks give the same entries`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pb-prev-'));
    const src = join(dir, 'src.out');
    await writeFile(src, `${outLines()}\n`);
    let plain = src;
    if (format !== 'out') {
      plain = join(dir, `prev.${format}`);
      await exportOutputs({ sources: [src], output: plain, format });
    }
    const bytes = await readFile(plain);
    const want = await entries(plain);
    assert.equal(want.read.keys, 7);
    const latin1 = (k: string) => Buffer.from(k).toString('latin1');
    assert.ok(want.got.some((l) => l.startsWith(`${latin1('Zoë')}\t`)));
    assert.ok(want.got.some((l) => l.startsWith(`${latin1('日本')}\t`)));
    const text = bytes.toString('utf8');
    const lf = text.replace(/\r\n/g, '\n');
    const variants: Record<string, string> = {
      lf,
      crlf: lf.replace(/\n/g, '\r\n'),
      'bom+lf': `\uFEFF${lf}`,
      'bom+crlf': `\uFEFF${lf.replace(/\n/g, '\r\n')}`,
    };
    let x = 5;
    const rnd = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return 1 + ((x >>> 8) % 13);
    };
    for (const [name, body] of Object.entries(variants)) {
      const file = join(dir, `${name}.${format}`);
      await writeFile(file, body);
      for (const [how, open] of [
        ['whole', undefined],
        ['1 byte', rechunk(() => 1)],
        ['random', rechunk(rnd)],
      ] as const) {
        const got = await entries(file, open);
        assert.deepEqual(got.got, want.got, `${format}, ${name}, ${how}`);
        assert.deepEqual(got.read, want.read, `${format}, ${name}, ${how}`);
      }
    }
  });
}
