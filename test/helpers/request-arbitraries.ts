import fc from 'fast-check';

/**
 * fast-check arbitraries for generate requests: `validRequest` (everything the schema allows, so a too-strict
 * schema fails the test) and `invalidRequest` (a valid request with one to three corruptions, each of which is
 * invalid on its own whatever the others did, so every payload is guaranteed to be refused).
 */

type Json = Record<string, unknown>;

// ---------------------------------------------------------------- valid requests

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
const CONTROL_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g;
/** Format characters a prompt may legitimately hold (RTL text, emoji joiners): the schema accepts them. */
const FORMAT_CHARACTERS = ['\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u202a', '\u202e', '\u2066', '\u2069', '\ufeff'];

/** Printable text, at most `maxCodePoints` code points, never blank (starts with a letter). */
const printableText = (maxCodePoints: number, allowNewlines = false) =>
  fc
    .tuple(
      fc.string({ unit: 'grapheme', maxLength: maxCodePoints }),
      fc.array(fc.tuple(fc.nat(), fc.constantFrom(...FORMAT_CHARACTERS, ...(allowNewlines ? ['\n'] : []))), { maxLength: 3 }),
    )
    .map(([text, inserts]) => {
      let out = `A${text.replace(allowNewlines ? CONTROL_BUT_NEWLINE : CONTROL, '')}`;
      for (const [at, char] of inserts) {
        const cut = [...out];
        cut.splice(at % (cut.length + 1), 0, char);
        out = cut.join('');
      }
      return out;
    });

const side = fc.integer({ min: 8, max: 256 }).map((n) => n * 8);
const unitDouble = (min: number, max: number) => fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((x) => (Object.is(x, -0) ? 0 : x));
const box = fc
  .tuple(unitDouble(0.001, 1), unitDouble(0.001, 1), unitDouble(0, 1), unitDouble(0, 1))
  .map(([width, height, fx, fy]) => ({ x: fx * (1 - width), y: fy * (1 - height), width, height }));

const validText = fc.record(
  {
    content: printableText(60, true).filter((s) => s.length <= 200),
    font: fc.stringMatching(/^[A-Za-z0-9 _-]{1,64}$/),
    weight: fc.oneof(fc.constantFrom('normal', 'bold'), fc.integer({ min: 1, max: 9 }).map((n) => n * 100)),
    align: fc.constantFrom('left', 'center', 'right'),
    color: fc.oneof(fc.stringMatching(/^#[0-9a-fA-F]{3}$/), fc.stringMatching(/^#[0-9a-fA-F]{6}$/)),
    position: box,
    onFail: fc.constantFrom('flag', 'fail'),
  },
  { requiredKeys: ['content'] },
);

/** Keys the schema accepts: relative segments of [A-Za-z0-9._-] that are never `.` or `..`. */
export const validStoreKey = fc
  .array(fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,15}$/), { minLength: 1, maxLength: 5 })
  .map((segments) => segments.join('/'));

/** Limits count code points: 2,000 emoji (4,000 UTF-16 units) are a valid prompt. */
const longestPrompt = fc.integer({ min: 1_900, max: 2_000 }).map((n) => `A${'😀'.repeat(n - 1)}`);

const common = {
  prompt: fc.oneof({ arbitrary: printableText(400), weight: 20 }, { arbitrary: longestPrompt, weight: 1 }),
  negativePrompt: fc.oneof(fc.constant(''), printableText(200)),
  width: side,
  height: side,
  steps: fc.integer({ min: 1, max: 100 }),
  seed: fc.integer({ min: 0, max: 0xffffffff }),
  format: fc.constantFrom('png', 'webp'),
  account: fc.record({ id: fc.stringMatching(/^[A-Za-z0-9._:@-]{1,128}$/), tier: fc.constantFrom('free', 'pro', 'enterprise') }),
  idempotencyKey: fc.stringMatching(/^[\x21-\x7e]{1,128}$/),
};

const renderRequest = fc.record(
  { ...common, intent: fc.constantFrom('preview', 'export'), text: validText },
  { requiredKeys: ['prompt', 'account'] },
);
const upscaleRequest = fc.record(
  { ...common, intent: fc.constant('upscale'), source: fc.record({ key: validStoreKey }), scale: fc.constantFrom(2, 4) },
  { requiredKeys: ['prompt', 'account', 'intent', 'source'] },
);

/** Any request the schema must accept. */
export const validRequest: fc.Arbitrary<Json> = fc.oneof({ arbitrary: renderRequest, weight: 4 }, { arbitrary: upscaleRequest, weight: 1 });

// ---------------------------------------------------------------- corruptions

/** Characters that no strict field (ids, keys, enums, colours, fonts) allows. */
const TRICK_CHARACTERS = [
  '\u0000', '\u0007', '\t', '\n', '\r', '\u001b', '\u007f', '\u0085', '\u009b', // C0, DEL, C1
  '\u200b', '\u200d', '\u200e', '\u202e', '\u2066', '\ufeff', '\u2028', '\u00a0', // zero-width, bidi, BOM, separators
  '\ud800', '\udfff', // lone surrogates
  '\uff0e', '\u2215', '\u0430', '\u0301', ' ', '/', '\\', '%', '"', "'", '<', '{', // look-alikes, combining, separators
];
/** Trick characters outside printable ASCII (idempotency keys allow all of `!`–`~`). */
const NON_PRINTABLE_ASCII_TRICKS = TRICK_CHARACTERS.filter((c) => !/^[\x21-\x7e]$/.test(c));
/** Characters that make free text (prompts, text content) invalid: controls and lone surrogates. */
const TEXT_BREAKERS = ['\u0000', '\u0001', '\u0007', '\b', '\t', '\r', '\u000b', '\u001b', '\u007f', '\u0080', '\u0085', '\u009f', '\ud800', '\udbff', '\udc00'];

const insertInto = (base: fc.Arbitrary<string>, chars: string[]) =>
  fc.tuple(base, fc.nat(), fc.constantFrom(...chars)).map(([s, at, c]) => {
    const i = at % (s.length + 1);
    return s.slice(0, i) + c + s.slice(i);
  });

const json = fc.jsonValue({ maxDepth: 3 });
const nonString = fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(json, { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 4 }));
const nonNumber = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('NaN', '512', '1e308', '-0', '0x200', 'Infinity', ''),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 8 }), json, { maxKeys: 3 }),
);
const nonObject = fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(json, { maxLength: 4 }));
/** Numbers no integer field accepts: fractions, non-finite values and the extremes. */
const nonInteger = fc.oneof(
  fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)),
  fc.constantFrom(NaN, Infinity, -Infinity, 1e308, -1e308, Number.MAX_VALUE, 0.5, 1e-300),
);
/**
 * A very long string: past every limit (zod counts code points, so 2,001 emoji are too long but 1,854 are not),
 * and past the 64 KiB body limit on HTTP from time to time.
 */
const hugeString = fc.tuple(fc.integer({ min: 2_001, max: 60_000 }), fc.constantFrom('x', 'é', '😀', ' ', '\u200b')).map(([n, c]) => c.repeat(n));
const hugeArray = fc.integer({ min: 1_000, max: 30_000 }).map((n) => new Array<number>(n).fill(7));
/** Arrays or objects nested 20–3,000 deep. */
const deeplyNested = fc.tuple(fc.integer({ min: 20, max: 3_000 }), fc.boolean()).map(([depth, arrays]) => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value };
  return value;
});
/** Values no field accepts: never a number or a short string (some fields take those), never an object with a schema key. */
const hostile = fc.oneof(
  hugeString,
  hugeArray,
  deeplyNested,
  fc.boolean(),
  fc.constant(null),
  fc.array(json, { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }).map((k) => `$${k}`), json, { maxKeys: 4 }),
);

/** Keys a level must refuse: prototype keys, traversal, look-alikes, and random names. */
const hostileKey = (allowed: readonly string[]) =>
  fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then'),
    fc.constantFrom('../../etc/passwd', '..', '.', '/', '%2e%2e', '..\\..\\windows', '\u0000', '', ' ', '$where', '$ne'),
    insertInto(fc.constantFrom(...allowed), TRICK_CHARACTERS),
    fc.constantFrom(...allowed).map((k) => k.toUpperCase()),
    fc.string({ minLength: 1, maxLength: 20 }),
  ).filter((k) => !allowed.includes(k));

type Mutation = (request: Json) => void;

function isPlainObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Sets an own property (also for `__proto__`, which plain assignment would treat as the prototype). */
function define(target: Json, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The object at `path`, made a plain object (filled with `fill` when it was missing or of the wrong type). */
function objectAt(request: Json, path: string[], fill: Record<string, () => Json> = {}): Json {
  let node = request;
  let at = '';
  for (const key of path) {
    at = at === '' ? key : `${at}.${key}`;
    if (!Object.hasOwn(node, key) || !isPlainObject(node[key])) define(node, key, fill[at]?.() ?? {});
    node = node[key] as Json;
  }
  return node;
}

const FILL: Record<string, () => Json> = {
  account: () => ({ id: 'acct-1', tier: 'pro' }),
  text: () => ({ content: 'SALE' }),
  'text.position': () => ({ x: 0, y: 0, width: 1, height: 1 }),
  source: () => ({ key: 'renders/a.png' }),
};

const setAt =
  (path: string[], value: unknown): Mutation =>
  (request) =>
    define(objectAt(request, path.slice(0, -1), FILL), path.at(-1)!, value);

const badValue = (path: string, ...bad: Array<fc.Arbitrary<unknown>>): fc.Arbitrary<Mutation> =>
  fc.oneof(...bad, hostile).map((value) => setAt(path.split('.'), value));

const LEVELS: Array<{ path: string[]; allowed: readonly string[] }> = [
  { path: [], allowed: ['prompt', 'negativePrompt', 'intent', 'width', 'height', 'steps', 'seed', 'format', 'account', 'text', 'source', 'scale', 'idempotencyKey'] },
  { path: ['account'], allowed: ['id', 'tier'] },
  { path: ['text'], allowed: ['content', 'font', 'weight', 'align', 'color', 'position', 'onFail'] },
  { path: ['text', 'position'], allowed: ['x', 'y', 'width', 'height'] },
  { path: ['source'], allowed: ['key'] },
];

const hostileStoreKey = fc.oneof(
  fc.constantFrom('../secrets.png', 'renders/../../etc/passwd', '..', '.', '/etc/passwd', '//host/share', 'a//b', 'a/', '/a', 'renders/./a.png'),
  fc.constantFrom('%2e%2e/x.png', '%2E%2E%2Fx', 'renders\\..\\x.png', 'C:\\x.png', 'a\u0000.png', 'a.png\u0000.jpg', '~/x', '$HOME/x', 'file:///etc/passwd', 's3://other/x'),
  insertInto(validStoreKey, TRICK_CHARACTERS.filter((c) => c !== '/')),
  fc.integer({ min: 513, max: 3000 }).map((n) => 'a'.repeat(n)),
);

/** Each is invalid on its own, whatever else the request holds. */
const corruption: fc.Arbitrary<Mutation> = fc.oneof(
  badValue('prompt', nonString, fc.constantFrom('', ' ', '\n\t ', '\u3000'), insertInto(printableText(50), TEXT_BREAKERS)),
  badValue('negativePrompt', nonString, insertInto(printableText(50), TEXT_BREAKERS)),
  badValue('intent', nonString, fc.constantFrom('Preview', 'PREVIEW', 'print', 'preview ', 'export\u200b', 'upscale\u0000', ''), insertInto(fc.constantFrom('preview', 'export'), TRICK_CHARACTERS)),
  ...['width', 'height'].map((f) =>
    badValue(f, nonNumber, nonInteger, fc.constantFrom(0, -0, -8, 56, 2056, 4096, 500, 513, 1e308), fc.integer({ min: 8, max: 256 }).map((n) => n * 8 + 1 + (n % 7))),
  ),
  badValue('steps', nonNumber, nonInteger, fc.constantFrom(0, -0, -1, 101, 1e6, 1e308)),
  badValue('seed', nonNumber, nonInteger, fc.constantFrom(-1, 2 ** 32, 2 ** 53, -(2 ** 31), 1e308)),
  badValue('format', nonString, fc.constantFrom('gif', 'PNG', 'jpeg', 'png ', 'svg+xml', ''), insertInto(fc.constantFrom('png', 'webp'), TRICK_CHARACTERS)),
  badValue('account', nonObject),
  badValue('account.id', nonString, fc.constantFrom('', 'a b', 'a/b', '../admin', 'a'.repeat(129)), insertInto(fc.stringMatching(/^[A-Za-z0-9._:@-]{1,20}$/), TRICK_CHARACTERS)),
  badValue('account.tier', nonString, fc.constantFrom('gold', 'Pro', 'admin', 'enterprise ', ''), insertInto(fc.constantFrom('free', 'pro', 'enterprise'), TRICK_CHARACTERS)),
  badValue('text', nonObject),
  badValue('text.content', nonString, fc.constantFrom('', '   ', '\n\n', 'y'.repeat(201)), insertInto(printableText(30), TEXT_BREAKERS.filter((c) => c !== '\n'))),
  badValue('text.font', nonString, fc.constantFrom('', 'f'.repeat(65), '../fonts/x', 'Arial;', 'Inter\u0000'), insertInto(fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/), TRICK_CHARACTERS.filter((c) => c !== ' '))),
  badValue('text.weight', fc.constantFrom(0, -0, 50, 150, 950, 1000, 450.5, 'heavy', 'Bold', '400', null, true), nonInteger),
  badValue('text.align', nonString, fc.constantFrom('justify', 'Left', 'centre', '')),
  badValue('text.color', nonString, fc.constantFrom('red', '#12', '#1234', '#gggggg', '#fffffff', 'rgb(0,0,0)', '', '#fff\u0000')),
  badValue('text.position', nonObject, fc.constant({ x: 0.8, y: 0, width: 0.5, height: 0.2 }), fc.constant({ x: 0, y: 0.9, width: 0.5, height: 0.2 })),
  ...['x', 'y'].map((f) => badValue(`text.position.${f}`, nonNumber, fc.constantFrom(-0.1, 1.5, -1e308, 1e308, NaN, Infinity))),
  ...['width', 'height'].map((f) => badValue(`text.position.${f}`, nonNumber, fc.constantFrom(0, -0, -0.5, 1.01, 1e308, NaN))),
  badValue('text.onFail', nonString, fc.constantFrom('ignore', 'FAIL', '')),
  badValue('idempotencyKey', nonString, fc.constantFrom('', 'a b', 'k'.repeat(129), 'clé', 'key\u0000'), insertInto(fc.stringMatching(/^[\x21-\x7e]{1,20}$/), NON_PRINTABLE_ASCII_TRICKS)),
  badValue('scale', fc.constantFrom(0, -0, 1, 3, 8, 2.5, '2', '4', null, true, [2])),
  // A hostile source key on an upscale request.
  hostileStoreKey.map((key): Mutation => (r) => {
    define(r, 'intent', 'upscale');
    define(r, 'source', { key });
  }),
  badValue('source', nonObject),
  // Missing required fields.
  fc.constantFrom<Mutation>(
    (r) => void delete r.prompt,
    (r) => void delete r.account,
    (r) => void delete objectAt(r, ['account'], FILL).id,
    (r) => void delete objectAt(r, ['account'], FILL).tier,
    (r) => void delete objectAt(r, ['text'], FILL).content,
    (r) => {
      define(r, 'intent', 'upscale');
      define(r, 'source', {});
    },
  ),
  // Fields that only an upscale allows, and the other way round.
  fc.tuple(fc.constantFrom('preview', 'export'), validStoreKey).map(([intent, key]): Mutation => (r) => {
    define(r, 'intent', intent);
    define(r, 'source', { key });
  }),
  fc.tuple(fc.constantFrom('preview', 'export'), fc.constantFrom(2, 4)).map(([intent, scale]): Mutation => (r) => {
    define(r, 'intent', intent);
    define(r, 'scale', scale);
  }),
  fc.constant<Mutation>((r) => {
    define(r, 'intent', 'upscale');
    delete r.source;
  }),
  fc.constant<Mutation>((r) => {
    define(r, 'intent', 'upscale');
    define(r, 'source', { key: 'renders/a.png' });
    define(r, 'text', { content: 'SALE' });
  }),
  // Extra fields at every level, prototype keys included.
  ...LEVELS.map(({ path, allowed }) =>
    fc.tuple(hostileKey(allowed), fc.oneof(json, hostile)).map(([key, value]): Mutation => (r) => define(objectAt(r, path, FILL), key, value)),
  ),
);

/** A valid request with one to three corruptions: always invalid. */
export const invalidRequest: fc.Arbitrary<Json> = fc
  .tuple(validRequest, fc.array(corruption, { minLength: 1, maxLength: 3 }))
  .map(([request, mutations]) => {
    const copy = structuredClone(request);
    for (const mutate of mutations) mutate(copy);
    return copy;
  });

/** Bodies that are not a JSON object at all (the library path takes these as values). */
export const notAnObject: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(validRequest, { maxLength: 3 }),
  deeplyNested.map((v) => [v]),
);

/**
 * Raw HTTP bodies that are not valid JSON, or are JSON with a parser trick (duplicate keys whose last value
 * is bad, `__proto__`): from truncations of real requests to comments, BOMs and JavaScript-only literals.
 */
export const brokenJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(validRequest, fc.nat()).map(([r, n]) => {
    const text = JSON.stringify(r);
    return text.slice(0, 1 + (n % (text.length - 1)));
  }),
  validRequest.map((r) => `${JSON.stringify(r).slice(0, -1)},}`),
  fc.tuple(validRequest, fc.constantFrom('x', ',', '}', ']', '{}', 'null', '//c', '/*c*/', '\u0000')).map(([r, junk]) => JSON.stringify(r) + junk),
  fc.tuple(validRequest, fc.constantFrom('x', ')]}\'\n', '\ufeff', '//\n', '/*c*/', ',')).map(([r, junk]) => junk + JSON.stringify(r)),
  fc.tuple(validRequest, fc.constantFrom('"prompt":42', '"account":"acct"', '"__proto__":{"admin":true}', '"constructor":{"prototype":{"admin":true}}', '"intent":"print"')).map(
    ([r, last]) => `${JSON.stringify(r).slice(0, -1)},${last}}`,
  ),
  fc.constantFrom('', ' ', 'NaN', 'undefined', 'Infinity', '{prompt:"a cat"}', "{'prompt':'a cat','account':{'id':'a','tier':'pro'}}", 'null', '[]', '"a cat"', '1', 'true', '{', '}', '[{"prompt":"a"}]', '{"prompt":"a",}', '{"prompt":"a" "account":{}}', '{"prompt":"\\x41"}', '{"prompt":"\\ud800"}'),
  fc.integer({ min: 1, max: 40_000 }).map((n) => '['.repeat(n) + ']'.repeat(n)),
  fc.integer({ min: 1, max: 40_000 }).map((n) => '{"a":'.repeat(n) + '1' + '}'.repeat(n)),
);
