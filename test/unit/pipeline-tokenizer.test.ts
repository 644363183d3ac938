import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FleetError } from '../../contract/index.js';
import { CLIP_SEQUENCE_LENGTH, clipTokenizerJson, loadClipTokenizer } from '../../workers/pipelines/clip-tokenizer.js';
import { buildClipVocabulary } from '../../scripts/onnx/clip-vocabulary.js';

describe('CLIP tokenizer', () => {
  let dir: string;
  const vocabulary = buildClipVocabulary();
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleet-tokenizer-'));
    for (const [name, text] of Object.entries(vocabulary.files)) await writeFile(join(dir, name), text);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('encodes to 77 ids: BOS, tokens, EOS, padding', async () => {
    const tokenizer = await loadClipTokenizer(dir);
    const ids = tokenizer.encode(['A red cat', 'a red cat']);
    assert.equal(ids.length, 2 * CLIP_SEQUENCE_LENGTH);
    assert.deepEqual(ids.slice(0, 77), ids.slice(77), 'lower-cased');
    assert.equal(ids[0], vocabulary.bosId);
    const vocab = JSON.parse(vocabulary.files['vocab.json']!) as Record<string, number>;
    assert.deepEqual(ids.slice(1, 4), [vocab['a</w>'], vocab['red</w>'], vocab['cat</w>']]);
    assert.equal(ids[4], vocabulary.eosId);
    assert.ok(ids.slice(5, 77).every((id) => id === vocabulary.eosId), 'pads with <|endoftext|>');
    assert.notDeepEqual(tokenizer.encode(['a blue cat']), ids.slice(0, 77));
  });

  it('truncates long prompts to 75 tokens and keeps EOS last', async () => {
    const tokenizer = await loadClipTokenizer(dir);
    const ids = tokenizer.encode([Array.from({ length: 200 }, () => 'forest').join(' ')]);
    assert.equal(ids.length, 77);
    assert.equal(ids[76], vocabulary.eosId);
  });

  it('reads tokenizer.json when present, to the same ids', async () => {
    const jsonDir = await mkdtemp(join(tmpdir(), 'fleet-tokenizer-json-'));
    try {
      const vocab = JSON.parse(await readFile(join(dir, 'vocab.json'), 'utf8')) as Record<string, number>;
      const merges = (await readFile(join(dir, 'merges.txt'), 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));
      await writeFile(join(jsonDir, 'tokenizer.json'), JSON.stringify(clipTokenizerJson(vocab, merges)));
      const prompt = ['Hello, World! a neon-lit café at 8pm'];
      assert.deepEqual((await loadClipTokenizer(jsonDir)).encode(prompt), (await loadClipTokenizer(dir)).encode(prompt));
    } finally {
      await rm(jsonDir, { recursive: true, force: true });
    }
  });

  it('fails E_MODEL_LOAD naming the folder when files are missing', async () => {
    await assert.rejects(loadClipTokenizer(join(dir, 'absent')), (e: unknown) => e instanceof FleetError && e.code === 'E_MODEL_LOAD' && /absent/.test(e.message));
  });
});
