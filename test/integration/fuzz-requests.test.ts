import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { charactersOutsideTypographyFonts, ERROR_CODES, FleetError, LANES, parseGenerateRequest, type ErrorCode } from '../../contract/index.js';
import { MAX_BODY_BYTES } from '../../producer/index.js';
import { drawnText } from '../../router/index.js';
import { startTestIngress } from '../helpers/ingress.js';
import { brokenJsonText, invalidRequest, notAnObject, validRequest } from '../helpers/request-arbitraries.js';
import { cleanupPrefix, countAllJobs, REDIS_URL, testPrefix } from '../helpers/redis.js';

/**
 * Hostile input against both doors: `producer.enqueue()` and `POST /generate`. Every payload is generated to
 * be invalid (a valid request plus corruptions that are each invalid on their own, broken JSON, wrong media
 * types, bodies past the limit), and every one must be refused with the right code, enqueue nothing, leave the
 * process up and its heap flat. Valid generated requests must pass, so a schema that refuses everything fails.
 * Seed: printed before anything runs; `FUZZ_SEED=<n>` replays a run exactly (CI can pin it). fast-check also prints
 * the seed of each property with its shrunk counterexample on failure.
 */

const SEED = fuzzSeed(process.env.FUZZ_SEED);
console.log(`fuzz-requests: seed ${SEED} (replay with FUZZ_SEED=${SEED})`);

function fuzzSeed(given: string | undefined): number {
  if (given === undefined || given === '') return Date.now() % 1_000_000;
  const seed = Number(given);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`FUZZ_SEED must be an integer, got ${JSON.stringify(given)}`);
  return seed;
}
/** Payloads per path per half (two halves, so 2 × 2 × RUNS_PER_HALF payloads in all, plus warm-up). */
const RUNS_PER_HALF = Number(process.env.FUZZ_RUNS_PER_HALF ?? 3_000);
const WARMUP_RUNS = 300;
/** Heap growth allowed across the second half, after warm-up: a leak of ~1 KiB per request would exceed it. */
const MAX_HEAP_GROWTH_BYTES = 2.5 * 1024 * 1024;
const VALID_RUNS = 3_000;

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON'];
const OTHER_TYPES = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/json-patch+json', 'text/json'];

interface HttpCase {
  body: string;
  contentType: string;
}

const httpCase: fc.Arbitrary<HttpCase> = fc.record({
  body: fc.oneof(
    { weight: 6, arbitrary: invalidRequest.map((r) => JSON.stringify(r)) },
    { weight: 3, arbitrary: brokenJsonText },
    { weight: 1, arbitrary: notAnObject.filter((v) => v !== undefined).map((v) => JSON.stringify(v)) },
  ),
  contentType: fc.oneof({ weight: 19, arbitrary: fc.constantFrom(...JSON_TYPES) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_TYPES) }),
});

function expectedCode({ body, contentType }: HttpCase): ErrorCode {
  if (!JSON_TYPES.includes(contentType)) return 'E_UNSUPPORTED_MEDIA_TYPE';
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) return 'E_BODY_TOO_LARGE';
  return 'E_VALIDATION';
}

/** `gc()` without restarting node with --expose-gc. */
function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

async function settledHeapUsed(gc: () => void): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

describe('fuzzing enqueue() and POST /generate with hostile payloads', () => {
  const prefix = testPrefix();
  let ingress: Awaited<ReturnType<typeof startTestIngress>>;
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort();
  const counts = { library: 0, http: 0, byCode: new Map<string, number>() };

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    // Between two HTTP halves the connection idles through a library half. A server that closes it meanwhile
    // races the next half's first request on it (fetch failed, ECONNRESET, seen on a loaded machine), which says
    // nothing about the payloads: here the server's keep-alive outlasts any half, and only the client closes.
    ingress = await startTestIngress({ redis: REDIS_URL, prefix, ingress: { keepAliveTimeoutMs: 120_000 } });
  });
  after(async () => {
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
    await ingress?.close();
    await cleanupPrefix(prefix);
  });

  test(`${VALID_RUNS} generated valid requests pass validation (the schema is not too strict)`, () => {
    fc.assert(
      fc.property(validRequest, (request) => {
        const parsed = parseGenerateRequest(request);
        assert.equal(parsed.prompt, request.prompt);
        assert.deepEqual({ ...parsed.account }, { ...(request.account as object) });
      }),
      { numRuns: VALID_RUNS, seed: SEED },
    );
  });

  async function refusedByLibrary(payload: unknown): Promise<void> {
    counts.library++;
    await assert.rejects(
      () => ingress.producer.enqueue(payload),
      (error: unknown) => {
        assert.ok(error instanceof FleetError, `not a FleetError: ${String(error)}`);
        assert.equal(error.code, 'E_VALIDATION');
        assert.equal(typeof error.field, 'string');
        return true;
      },
    );
  }

  async function refusedByHttp(c: HttpCase): Promise<void> {
    counts.http++;
    const response = await fetch(`${ingress.base}/generate`, { method: 'POST', headers: { 'content-type': c.contentType }, body: c.body });
    const text = await response.text();
    const expected = expectedCode(c);
    let code: string | undefined;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
    } catch {
      assert.fail(`answer is not JSON (status ${response.status}): ${text.slice(0, 200)}`);
    }
    assert.equal(code, expected, `status ${response.status}: ${text.slice(0, 300)}`);
    assert.equal(response.status, ERROR_CODES[expected].httpStatus);
    counts.byCode.set(expected, (counts.byCode.get(expected) ?? 0) + 1);
  }

  async function runHalf(seed: number, runs: number): Promise<void> {
    await fc.assert(
      fc.asyncProperty(fc.oneof({ weight: 9, arbitrary: invalidRequest }, { weight: 1, arbitrary: notAnObject }), refusedByLibrary),
      { numRuns: runs, seed, endOnFailure: true },
    );
    await fc.assert(fc.asyncProperty(httpCase, refusedByHttp), { numRuns: runs, seed: seed + 1, endOnFailure: true });
  }

  test(`2 × ${2 * RUNS_PER_HALF} invalid payloads: all refused with a code, none enqueued, process up, heap flat`, async () => {
    const gc = exposeGc();
    const queues = LANES.map((lane) => ingress.producer.laneQueue(lane));
    const jobsBefore = await countAllJobs(queues);
    const started = Date.now();

    await runHalf(SEED + 100, WARMUP_RUNS);
    const heapAfterWarmup = await settledHeapUsed(gc);
    await runHalf(SEED + 200, RUNS_PER_HALF);
    const heapAfterFirstHalf = await settledHeapUsed(gc);
    await runHalf(SEED + 300, RUNS_PER_HALF);
    const heapAfterSecondHalf = await settledHeapUsed(gc);

    const growth = heapAfterSecondHalf - heapAfterFirstHalf;
    const elapsedMs = Date.now() - started;
    console.log(
      `fuzz seed ${SEED}: ${counts.library} library + ${counts.http} HTTP payloads in ${elapsedMs} ms ` +
        `(HTTP codes ${JSON.stringify(Object.fromEntries(counts.byCode))}); heap after warm-up ${mib(heapAfterWarmup)}, ` +
        `after half 1 ${mib(heapAfterFirstHalf)}, after half 2 ${mib(heapAfterSecondHalf)} (growth over half 2: ${mib(growth)}, ` +
        `${(growth / (2 * RUNS_PER_HALF)).toFixed(0)} B per request)`,
    );

    assert.ok(counts.library >= 2 * RUNS_PER_HALF && counts.http >= 2 * RUNS_PER_HALF);
    assert.deepEqual(await countAllJobs(queues), jobsBefore, 'a refused payload was enqueued');
    assert.ok(jobsBefore.every((n) => n === 0));
    assert.deepEqual(await ingress.producer.redis.keys(`${prefix}:idem:*`), [], 'an idempotency key was claimed');
    assert.deepEqual(uncaught, [], 'uncaught errors');
    assert.deepEqual(Object.getOwnPropertyNames(Object.prototype).sort(), prototypeKeys, 'Object.prototype was polluted');
    assert.equal(({} as Record<string, unknown>).admin, undefined, 'Object.prototype was polluted');
    assert.ok(growth < MAX_HEAP_GROWTH_BYTES, `heap grew ${mib(growth)} over ${2 * RUNS_PER_HALF} requests (bound ${mib(MAX_HEAP_GROWTH_BYTES)})`);

    // Still up and still accepting: the same doors take valid requests afterwards.
    assert.equal((await ingress.get('/healthz')).status, 200);
    const valid = fc.sample(validRequest, { numRuns: 20, seed: SEED });
    const accepted: typeof valid = [];
    for (const request of valid) {
      const response = await ingress.post('/generate', JSON.stringify(request));
      const body = await response.text();
      // A valid request whose text to draw has characters no typography font covers is refused by design.
      if (response.status === 422 && JSON.parse(body).error.code === 'E_FONT_COVERAGE') {
        assert.notDeepEqual(charactersOutsideTypographyFonts(drawnText(parseGenerateRequest(request)) ?? ''), [], body);
        continue;
      }
      assert.equal(response.status, 202, body);
      accepted.push(request);
    }
    assert.ok(accepted.length >= 5, `${accepted.length} of 20 accepted`);
    for (const request of accepted.slice(0, 5)) await ingress.producer.enqueue({ ...request, idempotencyKey: undefined });
    const enqueued = (await countAllJobs(queues)).reduce((a, b) => a + b, 0);
    assert.equal(enqueued, accepted.length + 5);
  });
});
