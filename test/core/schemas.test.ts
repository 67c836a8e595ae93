/**
 * schemas/*.json against example lines written from the service reference
 * (inputs, batch inference outputs, segment outputs in both layouts, themes),
 * compiled with ajv directly, plus lines each schema must refuse.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { validator } from '../../src/schemas.js';
import { schemaValidator } from '../helpers.js';

function accepts(schema: string, lines: string[]): void {
  const v = schemaValidator(schema);
  for (const line of lines) {
    assert.ok(v(JSON.parse(line)), `${schema} should accept ${line}: ${JSON.stringify(v.errors)}`);
  }
}

function refuses(schema: string, lines: string[]): void {
  const v = schemaValidator(schema);
  for (const line of lines) assert.equal(v(JSON.parse(line)), false, `${schema} should refuse ${line}`);
}

describe('schemas compile', () => {
  const dir = fileURLToPath(new URL('../../schemas/', import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

  test('every schema in schemas/ compiles with ajv defaults', () => {
    assert.ok(files.length >= 8);
    for (const f of files) assert.equal(typeof schemaValidator(f), 'function', f);
  });

  test('every schema compiles with the project\u2019s own validator() (ajv strict: true)', () => {
    const failed: string[] = [];
    for (const f of files) {
      try {
        validator(f);
      } catch (err) {
        failed.push(`${f}: ${(err as Error).message}`);
      }
    }
    assert.deepEqual(failed, []);
  });
});

describe('input schemas (section 1 and 3 examples)', () => {
  test('user lines: USER_PERSONALIZATION and Popularity-Count, with filterValues', () => {
    accepts('input-user.schema.json', [
      '{"userId":"4638"}',
      '{"userId":"12"}',
      '{"userId":"5","filterValues":{"GENRES":"\\"horror\\",\\"comedy\\""}}',
      '{"userId":"5","filterValues":{"Q":"\\"say \\\\\\"hi\\\\\\"\\""}}',
      `{"userId":"${'x'.repeat(256)}"}`,
    ]);
    refuses('input-user.schema.json', [
      '{"UserId":"4638"}',
      '{"userId":4638}',
      '{"userId":""}',
      `{"userId":"${'x'.repeat(257)}"}`,
      '{"userId":"5","itemId":"1"}',
      '{"userId":"5","filterValues":{"GENRES":"horror,comedy"}}',
      '{"userId":"5","filterValues":{"$GENRES":"\\"horror\\""}}',
      '{"userId":"5","filterValues":{"GENRES":"\\"horror\\","}}',
      '{"userId":"5","filterValues":{"GENRES":["horror"]}}',
    ]);
  });

  test('ranking lines', () => {
    accepts('input-ranking.schema.json', [
      '{"userId":"891","itemList":["27","886"]}',
      '{"userId":"891","itemList":["27"],"filterValues":{"X":"\\"a\\""}}',
    ]);
    refuses('input-ranking.schema.json', [
      '{"userId":"891"}',
      '{"userId":"891","itemList":[]}',
      '{"userId":"891","itemList":["27",886]}',
      '{"userId":"891","itemList":[""]}',
      '{"itemList":["27"]}',
    ]);
  });

  test('item lines: RELATED_ITEMS and Item-Affinity', () => {
    accepts('input-item.schema.json', ['{"itemId":"105"}']);
    refuses('input-item.schema.json', ['{"itemID":"105"}', '{"itemId":""}', '{"itemId":"105","userId":"1"}']);
  });

  test('Item-Attribute-Affinity lines', () => {
    accepts('input-item-attributes.schema.json', [
      '{"itemAttributes":"ITEMS.genres = \\"Comedy\\" AND ITEMS.audience = \\"teen\\""}',
      '{"itemAttributes":"ITEMS.genres = \\"Comedy\\"","filterValues":{"X":"\\"a\\""}}',
    ]);
    refuses('input-item-attributes.schema.json', [
      '{"itemAttributes":""}',
      '{"itemAttributes":"ITEMS.genres = \\"Comedy\\"","itemId":"1"}',
      '{"itemAttributes":["ITEMS.genres = \\"Comedy\\""]}',
    ]);
  });
});

describe('batch inference output schemas (section 2)', () => {
  test('USER_PERSONALIZATION: recommendedItems with scores, E-notation, error null', () => {
    accepts('output-recommendations.schema.json', [
      '{"input":{"userId":"5023"},"output":{"recommendedItems":["1873","2036","1221"],"scores":[0.0152,0.0098,3.773E-4]},"error":null}',
      '{"input":{"userId":"4016"},"output":{"recommendedItems":[],"scores":[]},"error":null}',
      '{"input":{"userId":"5","filterValues":{"GENRES":"\\"horror\\",\\"comedy\\""}},"output":{"recommendedItems":["9"],"scores":[1.0E-5]},"error":null}',
    ]);
  });

  test('Popularity-Count and RELATED_ITEMS: no scores, error key missing', () => {
    accepts('output-recommendations.schema.json', [
      '{"input":{"userId":"12"},"output":{"recommendedItems":["105","106"]}}',
      '{"input":{"itemId":"105"},"output":{"recommendedItems":["106","107","108"]}}',
    ]);
  });

  test('User-Personalization-v2: reasons per item (possibly empty), gaps in scores', () => {
    accepts('output-recommendations.schema.json', [
      '{"input":{"userId":"1"},"output":{"recommendedItems":["a","b","c"],"scores":[0.61,0.2,null],"reasons":[["Promoted item"],[],["Exploration","Popular item"]]},"error":null}',
    ]);
  });

  test('a failed record: error string, output missing', () => {
    accepts('output-recommendations.schema.json', ['{"input":{"userId":"1"},"error":"Internal error"}']);
  });

  test('a failed record: error string, output null', () => {
    accepts('output-recommendations.schema.json', [
      '{"input":{"userId":"1"},"output":null,"error":"Internal error"}',
    ]);
  });

  test('a failed record is an error line whatever its input and output hold (issue 14)', () => {
    for (const schema of [
      'output-recommendations.schema.json',
      'output-ranking.schema.json',
      'output-themes.schema.json',
      'output-segment.schema.json',
    ]) {
      accepts(schema, [
        '{"input":{"userId":3002},"output":null,"error":"..."}',
        '{"input":{"usrId":"2"},"output":{"recommendedItems":[]},"error":"User error: Required fields for the provided recipe are userId"}',
        '{"error":"Internal error"}',
        '{"input":"u1","output":[1],"error":{"code":"E"}}',
      ]);
      refuses(schema, ['{"output":null,"error":null}', '{"input":{"userId":"1"}}']);
    }
  });

  test('Popularity-Count with an empty input, as an older AWS example shows it', () => {
    accepts('output-recommendations.schema.json', [
      '{"input": {}, "output": {"recommendedItems": ["105", "106", "441"]}}',
    ]);
  });

  test('recommendation lines that must be refused', () => {
    refuses('output-recommendations.schema.json', [
      '{"output":{"recommendedItems":["1"]},"error":null}',
      '{"input":{"usrId":"2"},"output":{"recommendedItems":["1"]},"error":null}',
      '{"input":{"userId":3002},"output":{"recommendedItems":["1"]}}',
      '{"input":{"userId":"1"},"error":null}',
      '{"input":{"userId":"1"},"output":null,"error":null}',
      '{"input":{"userId":"1"},"output":{"scores":[0.1]},"error":null}',
      '{"input":{"userId":"1"},"output":{"recommendedItems":["1"],"scores":["0.1"]},"error":null}',
      // A themes line or a segment line is not a recommendations line.
      '{"input":{"itemId":"105"},"output":{"recommendedItems":["1"],"theme":"Cozy"},"error":null}',
      '{"input":{"itemId":"105"},"output":{"recommendedItems":["1"],"usersList":["u"]},"error":null}',
    ]);
  });

  test('PERSONALIZED_RANKING: input items re-ordered, scores 0 or missing for untrained items', () => {
    accepts('output-ranking.schema.json', [
      '{"input":{"userId":"891","itemList":["27","886"]},"output":{"recommendedItems":["886","27"],"scores":[0.62,0]},"error":null}',
      '{"input":{"userId":"891","itemList":["27","886","999"]},"output":{"recommendedItems":["886","27","999"],"scores":[0.6,0.4]},"error":null}',
      '{"input":{"userId":"891","itemList":["27"]},"output":{"recommendedItems":["27"],"scores":[null]}}',
      '{"input":{"userId":"891","itemList":["27"]},"output":null,"error":"bad"}',
    ]);
    refuses('output-ranking.schema.json', [
      '{"input":{"userId":"891"},"output":{"recommendedItems":["27"]},"error":null}',
      '{"input":{"userId":"891","itemList":["27"]},"error":null}',
      '{"input":{"userId":"891","itemList":["27"]},"output":{"scores":[1]},"error":null}',
    ]);
  });

  test('Themes: theme string and relevance scores, negative ones included', () => {
    accepts('output-themes.schema.json', [
      '{"input":{"itemId":"105"},"output":{"recommendedItems":["4","17","58"],"theme":"Cozy mysteries for a rainy day","itemsThemeRelevanceScores":[0.32,-0.189,0.6]},"error":null}',
      '{"input":{"itemId":"105"},"output":{"recommendedItems":["4"],"theme":"X","itemsThemeRelevanceScores":[-0.1]}}',
    ]);
    refuses('output-themes.schema.json', [
      '{"input":{"itemId":"105"},"output":{"recommendedItems":["4"]},"error":null}',
      '{"input":{"userId":"1"},"output":{"recommendedItems":["4"],"theme":"X"},"error":null}',
      '{"input":{"itemId":"105"},"output":{"recommendedItems":["4"],"theme":7},"error":null}',
    ]);
  });
});

describe('batch segment output schema (section 3, both layouts)', () => {
  test('real runs: input wrapper, output.usersList, error null', () => {
    accepts('output-segment.schema.json', [
      '{"input":{"itemId":"105"},"output":{"usersList":["3","49","111"]},"error":null}',
      '{"input":{"itemAttributes":"ITEMS.genres = \\"Comedy\\" AND ITEMS.audience = \\"teen\\""},"output":{"usersList":["1","2"]},"error":null}',
    ]);
  });

  test('documented layout: output.recommendedUsers, top-level itemAttributes without input', () => {
    accepts('output-segment.schema.json', [
      '{"input":{"itemId":"105"},"output":{"recommendedUsers":["3","49"]}}',
      '{"itemAttributes":"ITEMS.genres = \\"Comedy\\"","output":{"recommendedUsers":["1"]}}',
      '{"input":{"itemId":"105"},"output":null,"error":"failed"}',
    ]);
  });

  test('segment lines that must be refused', () => {
    refuses('output-segment.schema.json', [
      '{"output":{"usersList":["1"]},"error":null}',
      '{"input":{"userId":"1"},"output":{"usersList":["1"]},"error":null}',
      '{"input":{"itemId":"105"},"output":{"recommendedItems":["1"]},"error":null}',
      '{"input":{"itemId":"105"},"error":null}',
      '{"input":{"itemId":"105"},"output":{"usersList":[1]},"error":null}',
    ]);
  });
});
