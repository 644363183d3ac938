// A small deterministic SentencePiece-Unigram vocabulary in the `tokenizer.json` form transformers' T5TokenizerFast
// saves (tokenizer_3/ of an SD3 export), with its `tokenizer_config.json` and `special_tokens_map.json`.

const WORDS = `a an the of and with in on at by for from to red orange yellow green blue purple pink white black grey gold silver
cat dog bird fox owl robot person portrait tree forest flower mountain river ocean sky city street house logo poster
light dark bright soft neon painting photo illustration drawing render style background pattern texture gradient
sunset night hello world sale open coffee shop menu book cover title text sign banner card birthday party bold vector`;

/** Ids: `<pad>` 0, `</s>` 1, `<unk>` 2, as in t5-v1_1. */
export const T5_SPECIAL_IDS = { pad: 0, eos: 1, unk: 2 } as const;

export function buildT5Vocabulary(): { files: Record<string, string>; vocabSize: number; specialIds: number[] } {
  const pieces: Array<[string, number]> = [
    ['<pad>', 0],
    ['</s>', 0],
    ['<unk>', 0],
    ['▁', -2],
  ];
  const seen = new Set(pieces.map(([p]) => p));
  const add = (piece: string, score: number) => {
    if (!seen.has(piece)) {
      seen.add(piece);
      pieces.push([piece, score]);
    }
  };
  for (const word of WORDS.split(/\s+/).filter(Boolean)) add(`▁${word}`, -3 - word.length / 10);
  for (const ch of 'abcdefghijklmnopqrstuvwxyz0123456789.,!?\'"-:;()') {
    add(ch, -8);
    add(`▁${ch}`, -9);
  }
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: null,
    pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      pair: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }, { Sequence: { id: 'B', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }],
      special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } },
    },
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: T5_SPECIAL_IDS.unk, vocab: pieces, byte_fallback: false },
  };
  const files = {
    'tokenizer.json': JSON.stringify(tokenizer),
    'tokenizer_config.json': JSON.stringify({ tokenizer_class: 'T5Tokenizer', model_max_length: 512, eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>', extra_ids: 0 }, null, 2),
    'special_tokens_map.json': JSON.stringify({ eos_token: '</s>', pad_token: '<pad>', unk_token: '<unk>' }, null, 2),
  };
  return { files, vocabSize: pieces.length, specialIds: [T5_SPECIAL_IDS.pad, T5_SPECIAL_IDS.eos, T5_SPECIAL_IDS.unk] };
}
