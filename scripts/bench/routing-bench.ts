// Routing cost per request: policy evaluation alone, and validation + evaluation, over the recorded
// editor requests (../shared/data/prompts.jsonl, or a built-in mix when absent), with the default
// policy and with a canary split. Prints µs per request; --json prints one object.
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parseGenerateRequest } from '../../contract/index.js';
import { CompiledPolicy, loadDefaultPolicy, parsePolicy } from '../../router/index.js';
import { canaryPolicy } from '../../test/helpers/canary-policy.js';

const json = process.argv.includes('--json');
const path = new URL('../../../shared/data/prompts.jsonl', import.meta.url);
const raw: unknown[] = existsSync(path)
  ? readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { request: unknown }).request)
  : [
      { prompt: 'watercolor fox in a misty forest', account: { id: 'a1', tier: 'free' } },
      { prompt: 'poster with the headline "SUNSET BEATS"', intent: 'export', account: { id: 'a2', tier: 'pro' } },
      { prompt: 'cinematic lighthouse in a storm', intent: 'export', account: { id: 'a3', tier: 'enterprise' } },
    ];
const requests = raw.map((r) => parseGenerateRequest(r));

function measure(label: string, fn: (i: number) => unknown, iterations = 200_000) {
  for (let i = 0; i < 20_000; i++) fn(i); // warm-up
  const started = performance.now();
  for (let i = 0; i < iterations; i++) fn(i);
  const us = ((performance.now() - started) * 1000) / iterations;
  return { label, usPerRequest: Number(us.toFixed(3)) };
}

const defaults = new CompiledPolicy(loadDefaultPolicy(), 1);
const canary = new CompiledPolicy(parsePolicy(canaryPolicy(25)), 2);
const results = [
  measure('evaluate, default policy', (i) => defaults.evaluate(requests[i % requests.length]!)),
  measure('evaluate, canary split', (i) => canary.evaluate(requests[i % requests.length]!)),
  measure('validate + evaluate', (i) => defaults.evaluate(parseGenerateRequest(raw[i % raw.length])), 50_000),
];
if (json) console.log(JSON.stringify({ requests: requests.length, results, goalUs: 50 }));
else {
  console.log(`routing over ${requests.length} recorded requests (goal: routing adds < 50 µs per request)`);
  for (const r of results) console.log(`  ${r.label.padEnd(28)} ${r.usPerRequest.toFixed(2).padStart(8)} µs/request`);
}
