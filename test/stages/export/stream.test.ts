/**
 * createExportStream: the bytes exportOutputs writes to a file, for every
 * format, however the input is chunked; errors as stream errors; an abort
 * that stops the source and removes csv-wide's spool file.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { exportOutputs } from '../../../src/stages/export/index.js';
import { createExportStream, type ExportStreamOptions } from '../../../src/stages/export/stream.js';
import { split, useTmp } from '../../helpers.js';
import { REFERENCE, randomFile } from '../../out-fixtures.js';

const tmp = useTmp();

async function throughStream(
  chunks: Buffer[],
  options: ExportStreamOptions,
): Promise<{ out: Buffer; summary: Awaited<ReturnType<typeof createExportStream>['summary']> }> {
  const parts: Buffer[] = [];
  const stream = createExportStream(options);
  await pipeline(
    Readable.from(chunks),
    stream,
    new Writable({
      write(c: Buffer, _e, cb) {
        parts.push(c);
        cb();
      },
    }),
  );
  return { out: Buffer.concat(parts), summary: await stream.summary };
}

describe('createExportStream: the bytes exportOutputs writes', () => {
  const { text } = randomFile(11, 600, { kind: 'recommendations', keyField: 'userId', errorRate: 0.05 });
  const bytes = Buffer.from(`\ufeff${text.replace(/\n/g, '\r\n')}`);
  const cases: [string, ExportStreamOptions][] = [
    ['csv-long', { format: 'csv-long' }],
    ['csv-wide (spooled, two passes)', { format: 'csv-wide' }],
    ['csv-wide with top (one pass)', { format: 'csv-wide', top: 3 }],
    ['jsonl', { format: 'jsonl' }],
    ['csv-long, small pieces on the workers', { format: 'csv-long', pieceSize: 16_384 }],
  ];
  for (const [name, opts] of cases) {
    test(name, async () => {
      const source = tmp.fresh('in.out');
      await writeFile(source, bytes);
      const output = tmp.fresh('out.txt');
      const fileErrors = tmp.fresh('file-errors.jsonl');
      const want = await exportOutputs({ ...opts, sources: [source], output, errors: fileErrors });
      const expected = await readFile(output);
      assert.ok(expected.length > 1000);
      // 1-byte writes through pieces of 16 KiB on the workers take seconds: random splits there.
      const chunkings = opts.pieceSize ? [{ seed: 5, max: 3000 }] : [1, { seed: 5, max: 3000 }, bytes.length];
      for (const how of chunkings) {
        const errors = tmp.fresh('errors.jsonl');
        const got = await throughStream(split(bytes, how), { ...opts, errors, tmpDir: tmp.dir() });
        assert.ok(got.out.equals(expected), `${name}, chunks ${JSON.stringify(how)}`);
        assert.equal(got.summary.lines, want.lines);
        assert.equal(await readFile(errors, 'utf8'), await readFile(fileErrors, 'utf8'));
      }
    });
  }

  test('an invalid line errors the stream with PB_PARSE and its line', async () => {
    const input = Buffer.from(`${REFERENCE.popularity}\nnot json\n`);
    await assert.rejects(
      throughStream([input], { errors: tmp.fresh('e.jsonl') }),
      (e: Error & { code?: string; line?: number }) => e.code === 'PB_PARSE' && e.line === 2,
    );
  });

  test('options that name files of its own are refused', () => {
    assert.throws(
      () => createExportStream({ output: 'x.csv' } as ExportStreamOptions),
      (e: Error & { code?: string }) => e.code === 'PB_USAGE' && /output/.test(e.message),
    );
    assert.throws(() => createExportStream({ errors: '-' }), /need a file/);
  });
});

describe('createExportStream: abort', () => {
  test('csv-wide: stops the source, removes the spool file, errors with an AbortError', async () => {
    const dir = tmp.fresh('spool');
    await mkdir(dir);
    const ac = new AbortController();
    let produced = 0;
    let finallyRan = false;
    let spoolFiles = 0;
    const line = Buffer.from(`${REFERENCE.userPersonalization}\n`.repeat(200));
    async function* endless(): AsyncGenerator<Buffer> {
      try {
        for (;;) {
          produced++;
          if (produced === 100)
            setTimeout(async () => {
              spoolFiles = (await readdir(dir)).length;
              ac.abort();
            }, 5);
          await new Promise((r) => setImmediate(r));
          yield line;
        }
      } finally {
        finallyRan = true;
      }
    }
    const stream = createExportStream({ format: 'csv-wide', tmpDir: dir, signal: ac.signal });
    await assert.rejects(
      pipeline(endless(), stream, new Writable({ write: (_c, _e, cb) => cb() })),
      (e: Error) => e.name === 'AbortError',
    );
    assert.equal(spoolFiles, 1, 'the spool folder was there when the abort came');
    assert.deepEqual(await readdir(dir), []);
    assert.ok(finallyRan);
    assert.ok(produced < 1000, `${produced} chunks produced`);
    await assert.rejects(stream.summary, (e: Error) => e.name === 'AbortError');
  });

  test('csv-long on the worker lanes: an abort while rows flow ends the run', async () => {
    const ac = new AbortController();
    let produced = 0;
    let rows = 0;
    const line = Buffer.from(`${REFERENCE.userPersonalization}\n`.repeat(100));
    async function* endless(): AsyncGenerator<Buffer> {
      for (;;) {
        produced++;
        await new Promise((r) => setImmediate(r));
        yield line;
      }
    }
    const stream = createExportStream({ pieceSize: 16_384, errors: tmp.fresh('e.jsonl'), signal: ac.signal });
    const sink = new Writable({
      write: (c: Buffer, _e, cb) => {
        rows += c.toString().split('\n').length - 1;
        if (rows > 20_000) ac.abort();
        cb();
      },
    });
    await assert.rejects(pipeline(endless(), stream, sink), (e: Error) => e.name === 'AbortError');
    assert.ok(rows > 20_000);
    assert.ok(produced < 1000, `${produced} chunks produced`);
  });

  test('an aborted signal: the stream errors before reading anything', async () => {
    const stream = createExportStream({ signal: AbortSignal.abort() });
    const [err] = (await once(stream, 'error')) as Error[];
    assert.equal(err?.name, 'AbortError');
  });
});
