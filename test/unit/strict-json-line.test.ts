import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStrictJsonLine } from '../helpers/strict-json-line.js';

test('a log line repeating a key at any depth is refused; the same key in sibling objects and strings that look like keys are not', () => {
  assert.throws(() => parseStrictJsonLine('{"level":30,"gpu":"cpu","msg":"worker running","gpu":null}'), /duplicate key "gpu"/);
  assert.throws(() => parseStrictJsonLine('{"a":{"b":1,"c":[1,{"d":2,"d":3}]}}'), /duplicate key "d"/);
  assert.deepEqual(parseStrictJsonLine('{"a":{"k":1},"b":{"k":2},"msg":"\\"k\\": x, \\"k\\": y","list":["k","k"]}'), { a: { k: 1 }, b: { k: 2 }, msg: '"k": x, "k": y', list: ['k', 'k'] });
  assert.throws(() => parseStrictJsonLine('not json'));
});
