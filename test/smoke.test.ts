import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveFamily } from '../src/core/families.js';

test('recipe names map to families', () => {
  assert.equal(resolveFamily('aws-sims').family, 'related-items');
  assert.throws(() => resolveFamily('aws-trending-now'), /no batch mode/);
});
