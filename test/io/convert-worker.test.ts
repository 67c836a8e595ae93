import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Catalog } from '../../src/core/catalog.js';
import { type ConvertConfig, Converter, sniffLayout } from '../../src/core/out-convert.js';
import type { ConvertReply, ConvertRequest, WorkerSetup } from '../../src/io/convert-worker.js';
import { startWorker } from '../../src/io/workers.js';
import { prng } from '../../src/sample.js';
import { randomFile } from '../out-fixtures.js';

// The conversion worker joins from the tables it was handed once at start
// (views of this thread's shared memory): its output equals this thread's.

test('a worker given the shared catalog and users table converts a piece as this thread does', async () => {
  const { text, lines } = randomFile(5, 200, { kind: 'recommendations', keyField: 'userId', messy: true });
  const piece = Buffer.from(text);
  const rand = prng(5);
  const values = ['Zoë', 'Smith, Jo', 'say "hi"', '=1+2', '', 'ü€ü€ü€'];
  const pick = () => values[Math.floor(rand() * values.length)] as string;
  for (const format of ['csv-long', 'jsonl'] as const) {
    const json = format === 'jsonl';
    const catalog = new Catalog(['title', 'url'], json, true, 10_000, json ? 0 : 5);
    for (const id of new Set(lines.flatMap((l) => l.expected.ids)))
      if (rand() < 0.7) catalog.add(id.trim(), [pick(), pick()]);
    const users = new Catalog(['email'], json, true, 10_000);
    for (const l of lines) if (rand() < 0.7) users.add(l.expected.key.trim(), [pick()]);
    assert.ok(catalog.size > 100 && users.size > 50);
    const cfg: ConvertConfig = {
      format,
      layout: sniffLayout(piece)?.layout,
      top: 0,
      width: 0,
      escapeFormulas: true,
      crlf: true,
      rename: undefined,
      maxCellBytes: json ? 0 : 5,
      measure: false,
      failFast: false,
      catalogColumns: ['title', 'url'],
      userColumns: ['email'],
      usersRequired: false,
      maxLineLength: 1 << 20,
      optimistic: false,
    };
    const here = new Converter(cfg, catalog, users).convert(piece);
    assert.ok(here.catalogMissing > 0 && here.usersMissing > 0);
    const setup: WorkerSetup = {
      cfg,
      slots: [],
      held: false,
      catalog: catalog.share(),
      users: users.share(),
    };
    const worker = startWorker('convert-worker', setup);
    try {
      const reply = once(worker, 'message') as Promise<[ConvertReply]>;
      const bytes = new Uint8Array(piece);
      worker.postMessage({ id: 0, bytes } satisfies ConvertRequest, [bytes.buffer]);
      const [m] = await reply;
      assert.ok('result' in m, JSON.stringify(m));
      assert.equal(Buffer.from(m.result.out as Uint8Array).toString(), here.out.toString(), format);
      const { catalogMissing, usersMissing, cellsCut, rows } = m.result;
      assert.deepEqual(
        { catalogMissing, usersMissing, cellsCut, rows },
        {
          catalogMissing: here.catalogMissing,
          usersMissing: here.usersMissing,
          cellsCut: here.cellsCut,
          rows: here.rows,
        },
      );
    } finally {
      await worker.terminate();
    }
  }
});
