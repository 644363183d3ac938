/** Malformed requests, each with the field its refusal must name. */
export interface MalformedCase {
  name: string;
  body: unknown;
  field: string;
}

const account = { id: 'acct-1', tier: 'pro' };
const ok = { prompt: 'a red bicycle', account };

export const MALFORMED: MalformedCase[] = [
  { name: 'not an object (array)', body: [ok], field: '(body)' },
  { name: 'not an object (string)', body: 'draw a cat', field: '(body)' },
  { name: 'null body', body: null, field: '(body)' },
  { name: 'missing prompt', body: { account }, field: 'prompt' },
  { name: 'empty prompt', body: { ...ok, prompt: '' }, field: 'prompt' },
  { name: 'blank prompt', body: { ...ok, prompt: '   ' }, field: 'prompt' },
  { name: 'prompt is a number', body: { ...ok, prompt: 42 }, field: 'prompt' },
  { name: '20k-char prompt', body: { ...ok, prompt: 'x'.repeat(20_000) }, field: 'prompt' },
  { name: 'NUL byte in prompt', body: { ...ok, prompt: 'a cat\u0000rm -rf' }, field: 'prompt' },
  { name: 'escape sequence in prompt', body: { ...ok, prompt: 'a cat \u001b[31m' }, field: 'prompt' },
  { name: 'lone surrogate in prompt', body: { ...ok, prompt: 'a cat \ud800' }, field: 'prompt' },
  { name: 'missing account', body: { prompt: 'a cat' }, field: 'account' },
  { name: 'account is a string', body: { ...ok, account: 'acct-1' }, field: 'account' },
  { name: 'account without tier', body: { ...ok, account: { id: 'a' } }, field: 'account.tier' },
  { name: 'unknown tier', body: { ...ok, account: { id: 'a', tier: 'gold' } }, field: 'account.tier' },
  { name: 'account id with spaces', body: { ...ok, account: { id: 'a b', tier: 'pro' } }, field: 'account.id' },
  { name: 'unknown field in account', body: { ...ok, account: { ...account, admin: true } }, field: 'account.admin' },
  { name: 'unknown intent', body: { ...ok, intent: 'print' }, field: 'intent' },
  { name: 'width not a multiple of 8', body: { ...ok, width: 500 }, field: 'width' },
  { name: 'width too small', body: { ...ok, width: 32 }, field: 'width' },
  { name: 'height too large', body: { ...ok, height: 4096 }, field: 'height' },
  { name: 'width as a string', body: { ...ok, width: '512' }, field: 'width' },
  { name: 'fractional height', body: { ...ok, height: 512.5 }, field: 'height' },
  { name: 'huge steps', body: { ...ok, steps: 1_000_000 }, field: 'steps' },
  { name: 'zero steps', body: { ...ok, steps: 0 }, field: 'steps' },
  { name: 'negative seed', body: { ...ok, seed: -1 }, field: 'seed' },
  { name: 'seed over uint32', body: { ...ok, seed: 2 ** 32 }, field: 'seed' },
  { name: 'unknown format', body: { ...ok, format: 'gif' }, field: 'format' },
  { name: 'unknown top-level field', body: { ...ok, priority: 1 }, field: 'priority' },
  { name: '__proto__ key', body: JSON.parse('{"prompt":"a cat","account":{"id":"a","tier":"pro"},"__proto__":{"admin":true}}'), field: '__proto__' },
  { name: 'constructor key', body: { ...ok, constructor: { prototype: { admin: true } } }, field: 'constructor' },
  { name: 'nested __proto__ in account', body: JSON.parse('{"prompt":"a cat","account":{"id":"a","tier":"pro","__proto__":{"x":1}}}'), field: 'account.__proto__' },
  { name: 'source.key with ..', body: { ...ok, intent: 'upscale', source: { key: 'renders/../../etc/passwd' } }, field: 'source.key' },
  { name: 'absolute source.key', body: { ...ok, intent: 'upscale', source: { key: '/etc/passwd' } }, field: 'source.key' },
  { name: 'source.key with backslash', body: { ...ok, intent: 'upscale', source: { key: 'renders\\..\\x.png' } }, field: 'source.key' },
  { name: 'upscale without source', body: { ...ok, intent: 'upscale' }, field: 'source' },
  { name: 'source on a preview', body: { ...ok, source: { key: 'renders/a.png' } }, field: 'source' },
  { name: 'scale 3', body: { ...ok, intent: 'upscale', source: { key: 'a.png' }, scale: 3 }, field: 'scale' },
  { name: 'empty text content', body: { ...ok, text: { content: '' } }, field: 'text.content' },
  { name: 'text over 200 chars', body: { ...ok, text: { content: 'y'.repeat(201) } }, field: 'text.content' },
  { name: 'text colour not hex', body: { ...ok, text: { content: 'SALE', color: 'red' } }, field: 'text.color' },
  { name: 'text box outside the image', body: { ...ok, text: { content: 'SALE', position: { x: 0.8, y: 0, width: 0.5, height: 0.2 } } }, field: 'text.position' },
  { name: 'unknown align', body: { ...ok, text: { content: 'SALE', align: 'justify' } }, field: 'text.align' },
  { name: 'idempotency key with spaces', body: { ...ok, idempotencyKey: 'a b' }, field: 'idempotencyKey' },
  { name: 'negative prompt with control chars', body: { ...ok, negativePrompt: 'blur\u0007' }, field: 'negativePrompt' },
];
