import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { FleetError } from '../../contract/index.js';

/** CLIP text encoders take exactly this many token ids per prompt (BOS, up to 75 tokens, EOS, padding). */
export const CLIP_SEQUENCE_LENGTH = 77;

/**
 * GPT-2/CLIP's reversible byte → printable-character table (bytes_to_unicode in openai/clip).
 * Exported because the model builder writes a vocabulary in the same alphabet.
 */
export function bytesToUnicode(): Map<number, string> {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table = new Map<number, string>();
  for (const b of printable) table.set(b, String.fromCodePoint(b));
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!table.has(b)) table.set(b, String.fromCodePoint(256 + extra++));
  }
  return new Map([...table.entries()].sort((a, b) => a[0] - b[0]));
}

/**
 * The `tokenizer.json` that Hugging Face's tokenizers library writes for openai/clip-vit-*, filled with a
 * vocab.json + merges.txt pair. diffusers exports (SD 1.5, SD-Turbo) ship only those two files.
 */
export function clipTokenizerJson(vocab: Record<string, number>, merges: string[]): object {
  const bos = '<|startoftext|>';
  const eos = '<|endoftext|>';
  const bosId = vocab[bos];
  const eosId = vocab[eos];
  if (bosId === undefined || eosId === undefined) {
    throw new Error(`vocab.json lacks ${bos} or ${eos}`);
  }
  const added = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(bosId, bos), added(eosId, eos)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        {
          type: 'Split',
          pattern: {
            Regex: "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+",
          },
          behavior: 'Removed',
          invert: true,
        },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [eos, eosId],
      cls: [bos, bosId],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: eos,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

/** Turns prompts into the fixed-length id rows a text encoder takes. */
export interface PromptTokenizer {
  /** Ids per row: 77 for CLIP, 256 for SD3's T5. */
  readonly sequenceLength: number;
  /** Row-major `[texts.length, sequenceLength]` ids (CLIP: BOS, the prompt truncated to 75 tokens, EOS, then padding). */
  encode(texts: readonly string[]): number[];
}

async function readJson(path: string): Promise<unknown> {
  return JSON.parse(await readFile(path, 'utf8')) as unknown;
}

async function readOptionalJson(path: string): Promise<Record<string, unknown>> {
  try {
    return (await readJson(path)) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw error;
  }
}

function tokenText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}

/**
 * Loads a CLIP tokenizer from a local folder only (never the network): `tokenizer.json` when present,
 * else `vocab.json` + `merges.txt`. `tokenizer_config.json` (optional) names the pad token; SD 1.5 pads with
 * `<|endoftext|>`, SD 2.x/Turbo with `!`.
 * @throws FleetError E_MODEL_LOAD naming the folder when the files are missing or malformed.
 */
export async function loadClipTokenizer(dir: string): Promise<PromptTokenizer> {
  let tokenizer: Tokenizer;
  let config: Record<string, unknown>;
  try {
    config = await readOptionalJson(join(dir, 'tokenizer_config.json'));
    let json: object;
    try {
      json = (await readJson(join(dir, 'tokenizer.json'))) as object;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const vocab = (await readJson(join(dir, 'vocab.json'))) as Record<string, number>;
      const merges = (await readFile(join(dir, 'merges.txt'), 'utf8'))
        .split('\n')
        .filter((line) => line.length > 0 && !line.startsWith('#version'));
      json = clipTokenizerJson(vocab, merges);
    }
    tokenizer = new Tokenizer(json, config);
  } catch (error) {
    throw new FleetError('E_MODEL_LOAD', `tokenizer in ${dir} could not be loaded: expected tokenizer.json or vocab.json + merges.txt`, {
      cause: error,
      details: { path: dir },
    });
  }
  const bosId = tokenizer.token_to_id('<|startoftext|>');
  const eosId = tokenizer.token_to_id('<|endoftext|>');
  const padText = tokenText(config.pad_token) ?? '<|endoftext|>';
  const padId = tokenizer.token_to_id(padText);
  if (bosId === undefined || eosId === undefined || padId === undefined) {
    throw new FleetError('E_MODEL_LOAD', `tokenizer in ${dir} lacks <|startoftext|>, <|endoftext|> or its pad token ${padText}`, {
      details: { path: dir },
    });
  }
  return {
    sequenceLength: CLIP_SEQUENCE_LENGTH,
    encode(texts) {
      const rows: number[] = [];
      for (const text of texts) {
        const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
        const body = ids.slice(0, CLIP_SEQUENCE_LENGTH - 2);
        const row = [bosId, ...body, eosId];
        while (row.length < CLIP_SEQUENCE_LENGTH) row.push(padId);
        rows.push(...row);
      }
      return rows;
    },
  };
}
