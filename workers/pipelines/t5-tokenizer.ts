import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { FleetError } from '../../contract/index.js';
import type { PromptTokenizer } from './clip-tokenizer.js';

/**
 * SD3's third tokenizer (T5TokenizerFast), from the `tokenizer.json` that transformers saves beside `spiece.model`:
 * ids end with `</s>` (the post-processor adds it), truncated and padded with `<pad>` to `sequenceLength` (diffusers'
 * `max_sequence_length`, 256).
 * @throws FleetError E_MODEL_LOAD naming the folder when `tokenizer.json` is missing or lacks `</s>` / `<pad>`.
 */
export async function loadT5Tokenizer(dir: string, sequenceLength: number): Promise<PromptTokenizer> {
  let tokenizer: Tokenizer;
  try {
    const json = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as object;
    let config: Record<string, unknown> = {};
    try {
      config = JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    tokenizer = new Tokenizer(json, config);
  } catch (error) {
    throw new FleetError('E_MODEL_LOAD', `T5 tokenizer in ${dir} could not be loaded: expected tokenizer.json (spiece.model alone is not read)`, {
      cause: error,
      details: { path: dir },
    });
  }
  const eosId = tokenizer.token_to_id('</s>');
  const padId = tokenizer.token_to_id('<pad>');
  if (eosId === undefined || padId === undefined) {
    throw new FleetError('E_MODEL_LOAD', `T5 tokenizer in ${dir} lacks </s> or <pad>`, { details: { path: dir } });
  }
  return {
    sequenceLength,
    encode(texts) {
      const rows: number[] = [];
      for (const text of texts) {
        const ids = tokenizer.encode(text, { add_special_tokens: false }).ids.slice(0, sequenceLength - 1);
        const row = [...ids, eosId];
        while (row.length < sequenceLength) row.push(padId);
        rows.push(...row);
      }
      return rows;
    },
  };
}
