import { parseGenerateRequest, type GenerateRequest } from '../contract/index.js';
import { CommandFailure } from './common-options.js';
import { readInput } from './read-input.js';

/** Keys of a recorded line (`{ request, lane, why }`, as in prompts.jsonl) around the request itself. */
const RECORD_KEYS = new Set(['request', 'lane', 'why']);

/**
 * Requests from a JSONL file (or `-` for standard input): one request per line, bare or recorded as
 * `{ "request": …, "lane"?, "why"? }`. A line that is not a valid request fails naming `path:line`.
 */
export function readRecordedRequests(path: string): GenerateRequest[] {
  const requests: GenerateRequest[] = [];
  readInput(path)
    .split('\n')
    .forEach((line, index) => {
      if (line.trim() === '') return;
      try {
        const value: unknown = JSON.parse(line);
        const recorded = value !== null && typeof value === 'object' && 'request' in value && Object.keys(value).every((key) => RECORD_KEYS.has(key));
        requests.push(parseGenerateRequest(recorded ? (value as { request: unknown }).request : value));
      } catch (error) {
        throw new CommandFailure(`${path}:${index + 1}: ${(error as Error).message}`);
      }
    });
  return requests;
}
