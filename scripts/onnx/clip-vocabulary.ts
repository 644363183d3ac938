// A small, deterministic CLIP-style byte-level BPE vocabulary, written in the layout a diffusers export has
// (tokenizer/vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json).
// Layout as in openai/clip: 256 byte symbols, the same with `</w>`, then one token per merge, then the two specials.
import { bytesToUnicode } from '../../workers/pipelines/clip-tokenizer.js';

const CORPUS = `
a an the of and with in on at by for from to into over under near under above behind
red orange yellow green blue purple violet pink magenta cyan teal white black grey gray gold silver brown
cat dog bird fish horse fox owl lion tiger bear rabbit dragon robot person woman man child portrait face
tree forest flower rose garden mountain river lake ocean sea beach desert island sky cloud clouds sun moon star stars
city street house castle tower bridge room kitchen window door car train ship boat plane
light dark bright soft warm cool neon glowing shiny smooth sharp detailed simple abstract minimal
painting photo photograph illustration drawing sketch render watercolor oil digital pixel art style poster logo
background pattern texture gradient sunset sunrise night morning evening winter summer spring autumn rain snow fog
beautiful cute big small tall old new ancient modern futuristic fantasy magic happy calm dramatic cinematic
hello world sale open coffee shop menu book cover title text sign banner card birthday party wedding
high quality best masterpiece resolution ultra hd 4k 8k realistic photorealistic studio lighting
`;

const MERGE_COUNT = 700;

function words(): string[][] {
  return CORPUS.split(/\s+/)
    .filter((w) => w.length > 0)
    .map((w) => {
      const chars = [...w];
      const last = chars.length - 1;
      return chars.map((c, i) => (i === last ? `${c}</w>` : c));
    });
}

/** Learns merges by pair frequency; ties break on the pair text, so the result is the same on every run. */
function learnMerges(count: number): Array<[string, string]> {
  let corpus = words();
  const merges: Array<[string, string]> = [];
  while (merges.length < count) {
    const counts = new Map<string, number>();
    for (const w of corpus) {
      for (let i = 0; i + 1 < w.length; i++) {
        const key = `${w[i]} ${w[i + 1]}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    }
    let best: string | undefined;
    let bestCount = 0;
    for (const [key, n] of counts) {
      if (n > bestCount || (n === bestCount && best !== undefined && key < best)) {
        best = key;
        bestCount = n;
      }
    }
    if (best === undefined) break;
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    corpus = corpus.map((w) => {
      const out: string[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === left && w[i + 1] === right) {
          out.push(left + right);
          i++;
        } else {
          out.push(w[i]!);
        }
      }
      return out;
    });
  }
  return merges;
}

export interface ClipVocabularyFiles {
  /** File name (inside `tokenizer/`) → contents. */
  files: Record<string, string>;
  vocabSize: number;
  bosId: number;
  eosId: number;
  padId: number;
}

/**
 * @param padToken what `tokenizer_config.json` pads with: `<|endoftext|>` (SD 1.x, SDXL's first tokenizer) or `!`
 *   (SD 2.x and SDXL's `tokenizer_2`, from OpenCLIP).
 */
export function buildClipVocabulary(padToken = '<|endoftext|>'): ClipVocabularyFiles {
  const byteSymbols = [...bytesToUnicode().values()];
  const tokens = [...byteSymbols, ...byteSymbols.map((s) => `${s}</w>`)];
  const merges = learnMerges(MERGE_COUNT);
  for (const [a, b] of merges) tokens.push(a + b);
  tokens.push('<|startoftext|>', '<|endoftext|>');
  const vocab: Record<string, number> = {};
  tokens.forEach((t, i) => {
    if (!Object.hasOwn(vocab, t)) vocab[t] = i;
  });
  const bosId = vocab['<|startoftext|>']!;
  const eosId = vocab['<|endoftext|>']!;
  const special = (content: string) => ({ content, lstrip: false, normalized: true, rstrip: false, single_word: false });
  const files = {
    'vocab.json': JSON.stringify(vocab),
    'merges.txt': ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n',
    'tokenizer_config.json': JSON.stringify(
      {
        tokenizer_class: 'CLIPTokenizer',
        model_max_length: 77,
        do_lower_case: true,
        bos_token: special('<|startoftext|>'),
        eos_token: special('<|endoftext|>'),
        unk_token: special('<|endoftext|>'),
        pad_token: padToken,
      },
      null,
      2,
    ),
    'special_tokens_map.json': JSON.stringify(
      {
        bos_token: special('<|startoftext|>'),
        eos_token: special('<|endoftext|>'),
        unk_token: special('<|endoftext|>'),
        pad_token: padToken,
      },
      null,
      2,
    ),
  };
  const padId = vocab[padToken];
  if (padId === undefined) throw new RangeError(`padToken ${padToken} is not in the vocabulary`);
  return { files, vocabSize: tokens.length, bosId, eosId, padId };
}
