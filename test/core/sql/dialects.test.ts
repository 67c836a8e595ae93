import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { HiveSQL, SparkSQL, TrinoSQL } from 'dt-sql-parser';
import { sniffLayout } from '../../../src/core/out-convert.js';
import type { SqlEngine, SqlSource } from '../../../src/core/sql/dialect.js';
import type { SqlCatalog } from '../../../src/core/sql/output-shape.js';
import { outputSql } from '../../../src/core/sql/outputs.js';
import { prepareSql } from '../../../src/core/sql/prepare.js';
import { REFERENCE } from '../../out-fixtures.js';

// The Athena and Spark texts, which no engine here runs: held to golden files
// (test/fixtures/sql/; UPDATE_GOLDEN=1 rewrites them after a change you have
// checked) and parsed by each dialect's ANTLR grammar (dt-sql-parser): Athena's
// DDL by Hive's, its views and queries by Trino's, Spark's by Spark's.

const GOLDEN = join(import.meta.dirname, '..', '..', 'fixtures', 'sql');
const UPDATE = process.env.UPDATE_GOLDEN === '1';

const SOURCE: SqlSource = {
  paths: ['s3://my-bucket/batch/output/**/*.out'],
  path: 's3://my-bucket/batch/output/',
  folder: true,
  location: 's3://my-bucket/batch/output/',
};

/** A shape per name: the lines it is sniffed from (as export sniffs them). */
const SHAPES: Record<string, string[]> = {
  'user-personalization': [REFERENCE.userPersonalization],
  'v2-reasons': [REFERENCE.v2Reasons],
  popularity: [REFERENCE.popularity],
  'related-items': [REFERENCE.similarItems],
  ranking: [REFERENCE.ranking],
  themes: [REFERENCE.themes],
  'segment-item': [REFERENCE.segmentItem],
  'segment-attributes': [REFERENCE.segmentAttributes, REFERENCE.segmentDocAttributes],
};

const CATALOG: SqlCatalog = { source: 'shop.items', idColumn: 'ITEM_ID', columns: ['TITLE', 'score'] };

function layoutOf(lines: string[]) {
  const s = sniffLayout(Buffer.from(lines.join('\n')));
  assert.ok(s);
  return s.layout;
}

/** The statements of a text: comments dropped, split at the `;` ending a line. */
function statements(text: string): string[] {
  const body = text
    .split('\n')
    .filter((l) => !l.startsWith('--'))
    .join('\n');
  return body
    .split(/;\n/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const parsers = { hive: new HiveSQL(), trino: new TrinoSQL(), spark: new SparkSQL() };

function assertParses(grammar: keyof typeof parsers, sql: string): void {
  const errors = parsers[grammar].validate(sql);
  assert.deepEqual(
    errors.map((e) => `${e.startLine}:${e.startColumn} ${e.message}`),
    [],
    `${grammar} grammar on:\n${sql}`,
  );
}

/** Which grammar reads a statement of an engine's text. */
function grammarOf(engine: SqlEngine, statement: string): keyof typeof parsers {
  if (engine === 'spark') return 'spark';
  return statement.startsWith('CREATE EXTERNAL TABLE') ? 'hive' : 'trino';
}

async function golden(name: string, text: string): Promise<void> {
  const file = join(GOLDEN, name);
  if (UPDATE) await writeFile(file, text);
  assert.equal(
    text,
    await readFile(file, 'utf8'),
    `${name} differs (UPDATE_GOLDEN=1 after checking the change)`,
  );
}

describe('Athena and Spark SQL: golden files, parsed by their grammars', () => {
  for (const engine of ['athena', 'spark'] as const) {
    for (const [shape, lines] of Object.entries(SHAPES)) {
      test(`${engine}: ${shape}`, async () => {
        const text = outputSql({ engine, layout: layoutOf(lines), source: SOURCE });
        await golden(`${engine}-${shape}.sql`, text);
        const list = statements(text);
        assert.equal(list.length, 2, 'the lines table (or view), then the rows');
        for (const s of list) assertParses(grammarOf(engine, s), s);
      });
    }
    test(`${engine}: user-personalization with --catalog`, async () => {
      const layout = layoutOf(SHAPES['user-personalization'] as string[]);
      const text = outputSql({ engine, layout, source: SOURCE, catalog: CATALOG });
      await golden(`${engine}-catalog.sql`, text);
      assert.match(text, /LEFT JOIN `?shop`?\.`?items`? AS c|LEFT JOIN shop\.items AS c/);
      for (const s of statements(text)) assertParses(grammarOf(engine, s), s);
    });
    test(`${engine}: --stage prepare`, async () => {
      const text = prepareSql({
        engine,
        recipe: 'user-personalization',
        table: 'crm.customers',
        column: 'customer_id',
        where: "country = 'DE'",
        to: 's3://my-bucket/batch/input/',
      });
      await golden(`${engine}-prepare.sql`, text);
      const [s] = statements(text) as [string];
      if (engine === 'spark') assertParses('spark', s);
      else {
        // UNLOAD is Athena's own statement, not Trino's: its query is parsed.
        const m =
          /^UNLOAD \(\n([\s\S]*)\n\)\nTO '[^']*'\nWITH \(format = 'TEXTFILE', compression = 'NONE'\)$/.exec(
            s,
          );
        assert.ok(m, s);
        assertParses('trino', m[1] as string);
      }
    });
  }

  test('the grammars do reject a broken statement', () => {
    assert.ok(
      parsers.trino.validate('SELECT a FROM t CROSS JOIN UNNEST(t.x) WITH ORDINAL AS r(a, b)').length > 0,
    );
    assert.ok(parsers.spark.validate('SELECT a FROM t LATERAL VIEW posexplode(t.x) r AS pos id').length > 0);
    assert.ok(parsers.spark.validate('CREATE TEMPORARY VIEW v (a STRUCT<b: STRING) USING json').length > 0);
    assert.ok(
      parsers.hive.validate("CREATE EXTERNAL TABLE t (a STRUCT<b STRING>) LOCATION 's3://x/'").length > 0,
    );
  });
});
