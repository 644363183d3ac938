import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** `../shared/data/prompts.jsonl` beside the project (absent outside the workplace: tests skip). */
export const PROMPTS_PATH = fileURLToPath(new URL('../../../shared/data/prompts.jsonl', import.meta.url));

export interface RecordedPrompt {
  request: Record<string, unknown>;
  lane: string;
  why?: string;
}

export function readPrompts(): RecordedPrompt[] | undefined {
  if (!existsSync(PROMPTS_PATH)) return undefined;
  return readFileSync(PROMPTS_PATH, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as RecordedPrompt);
}

export const PROMPTS_MISSING = `skipped: ${PROMPTS_PATH} is absent`;
