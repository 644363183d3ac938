import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { laneQueueName, laneQueuePrefix, readConfig, type JobData, type JobResult } from '../../contract/index.js';
import { ingressTokens } from '../../cli/commands/ingress-command.js';
import { AccessTokens } from '../../producer/index.js';
import { startTestIngress } from '../helpers/ingress.js';
import { waitUntil } from '../helpers/fleet-cli.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';

const TOKENS = {
  editor: 'editor-token-0123456789',
  other: 'other-token-0123456789ab',
  ops: 'ops-token-0123456789abcd',
  free: 'free-only-token-0123456789',
};

const tokens = AccessTokens.parse({
  tokens: [
    { name: 'editor', token: TOKENS.editor, tiers: ['free', 'pro'], accounts: ['eu-*', 'acct-1'] },
    { name: 'other', sha256: createHash('sha256').update(TOKENS.other).digest('hex'), tiers: '*', accounts: '*' },
    { name: 'ops', token: TOKENS.ops, tiers: '*', accounts: '*', readAllJobs: true },
    { name: 'free-only', token: TOKENS.free, tiers: ['free'], accounts: ['acct-free'] },
  ],
});
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

type ErrorBody = { error: { code: string; message: string; field?: string } };

/** Sends raw bytes on a new connection and resolves with what the server answered before closing. */
function rawExchange(port: number, bytes: string | Buffer, { endAfterMs }: { endAfterMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => {
      socket.write(bytes);
      if (endAfterMs !== undefined) setTimeout(() => socket.end(), endAfterMs);
    });
  });
}

function statusAndBody(answer: string): { status: number; body: ErrorBody } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  return { status, body: JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as ErrorBody };
}

describe('trust model: scoped tokens on real Redis', () => {
  const prefix = testPrefix();
  let ingress: Awaited<ReturnType<typeof startTestIngress>>;
  before(async () => {
    ingress = await startTestIngress({ redis: REDIS_URL, prefix, tokens });
  });
  after(async () => {
    await ingress?.close();
    await cleanupPrefix(prefix);
  });

  test('an unknown or missing token is 401; /healthz stays open', async () => {
    const request = { prompt: 'a cat', account: { id: 'acct-1', tier: 'pro' } };
    for (const headers of [{}, bearer('nope-nope-nope-nope'), { authorization: TOKENS.editor }, bearer(`${TOKENS.editor}x`), { authorization: `Bearer  ${TOKENS.editor}` }]) {
      const response = await ingress.post('/generate', request, headers);
      assert.equal(response.status, 401, JSON.stringify(headers));
      assert.equal(((await response.json()) as ErrorBody).error.code, 'E_UNAUTHORIZED');
    }
    assert.equal((await ingress.get('/healthz')).status, 200);
  });

  test('a token claims only its tiers and acts only for its accounts (403 E_FORBIDDEN naming the field); nothing is enqueued', async () => {
    const queue = ingress.producer.laneQueue('flash');
    const before = await queue.getJobCounts('waiting', 'prioritized');
    const cases: Array<[string, { id: string; tier: string }, number, string?]> = [
      [TOKENS.editor, { id: 'acct-1', tier: 'pro' }, 202],
      [TOKENS.editor, { id: 'eu-42', tier: 'free' }, 202],
      [TOKENS.editor, { id: 'acct-1', tier: 'enterprise' }, 403, 'account.tier'],
      [TOKENS.editor, { id: 'us-1', tier: 'pro' }, 403, 'account.id'],
      [TOKENS.editor, { id: 'acct-10', tier: 'pro' }, 403, 'account.id'],
      [TOKENS.free, { id: 'acct-free', tier: 'free' }, 202],
      [TOKENS.free, { id: 'acct-free', tier: 'pro' }, 403, 'account.tier'],
      [TOKENS.other, { id: 'anyone', tier: 'enterprise' }, 202],
    ];
    let accepted = 0;
    for (const [token, account, status, field] of cases) {
      const response = await ingress.post('/generate', { prompt: 'a red bicycle', account }, bearer(token));
      assert.equal(response.status, status, `${JSON.stringify(account)} with ${token}`);
      if (status === 202) accepted++;
      else {
        const body = (await response.json()) as ErrorBody;
        assert.equal(body.error.code, 'E_FORBIDDEN');
        assert.equal(body.error.field, field);
      }
    }
    const afterCounts = await queue.getJobCounts('waiting', 'prioritized');
    assert.equal((afterCounts.waiting ?? 0) + (afterCounts.prioritized ?? 0) - (before.waiting ?? 0) - (before.prioritized ?? 0), accepted);
  });

  test('a job is visible to the token that made it and to an operator token, to no other (404); /metrics is the operator\'s', async () => {
    const made = await ingress.post('/generate', { prompt: 'a lighthouse', account: { id: 'acct-1', tier: 'pro' } }, bearer(TOKENS.editor));
    const { id } = (await made.json()) as { id: string };
    assert.equal((await ingress.get(`/jobs/${id}`, bearer(TOKENS.editor))).status, 200);
    assert.equal((await ingress.get(`/jobs/${id}`, bearer(TOKENS.ops))).status, 200);
    const foreign = await ingress.get(`/jobs/${id}`, bearer(TOKENS.other));
    assert.equal(foreign.status, 404);
    assert.deepEqual(((await foreign.json()) as ErrorBody).error.code, 'E_NOT_FOUND');
    assert.equal((await ingress.get(`/jobs/${id}`, bearer(TOKENS.free))).status, 404);
    assert.equal((await ingress.get('/metrics', bearer(TOKENS.editor))).status, 403);
    assert.equal((await ingress.get('/metrics', bearer(TOKENS.ops))).status, 200);
    assert.equal((await ingress.producer.getJob(id)).submittedBy, 'editor');
  });

  test('idempotent job ids need the server secret; another token, or another fleet, gets another id for the same key', async () => {
    const request = { prompt: 'a quiet street', account: { id: 'acct-1', tier: 'pro' }, idempotencyKey: 'key-1' };
    const first = (await (await ingress.post('/generate', request, bearer(TOKENS.editor))).json()) as { id: string; duplicate: boolean };
    const again = (await (await ingress.post('/generate', request, bearer(TOKENS.editor))).json()) as { id: string; duplicate: boolean };
    assert.equal(again.id, first.id);
    assert.equal(again.duplicate, true);
    const unkeyed = createHash('sha256').update(`acct-1\u0000key-1`).digest('hex').slice(0, 32);
    assert.notEqual(first.id, `flash.i${unkeyed}`, 'the id is the old, derivable one');
    const byOther = (await (await ingress.post('/generate', request, bearer(TOKENS.other))).json()) as { id: string };
    assert.notEqual(byOther.id, first.id, "one token can reach another token's job through its idempotency key");
    const otherFleet = testPrefix();
    const second = await startTestIngress({ redis: REDIS_URL, prefix: otherFleet, tokens });
    try {
      const elsewhere = (await (await second.post('/generate', request, bearer(TOKENS.editor))).json()) as { id: string };
      assert.notEqual(elsewhere.id, first.id, 'two fleets (two secrets) derived the same id');
    } finally {
      await second.close();
      await cleanupPrefix(otherFleet);
    }
  });

  test('results show no absolute server path: a file store artifact keeps its key, error messages lose their paths', async () => {
    const connection = new Redis(REDIS_URL, { maxRetriesPerRequest: null });
    const worker = new Worker<JobData, JobResult>(
      laneQueueName('large'),
      async (job) => {
        if (job.data.request.prompt.includes('fail')) throw new Error('[E_MODEL_LOAD] model large-v1: /srv/fleet/models/large-v1 has no model_index.json');
        return {
          image: { url: `file:///srv/fleet/renders/large/${job.id}.png`, key: `large/${job.id}.png`, width: 64, height: 64, format: 'png', bytes: 1 },
          model: job.data.model,
          lane: 'large',
          seed: job.data.request.seed,
          timings: { endToEndMs: 1 },
        };
      },
      { connection, prefix: laneQueuePrefix(prefix, 'large') },
    );
    try {
      const ok = (await (await ingress.post('/generate?wait=10', { prompt: 'a harbor', intent: 'export', account: { id: 'acct-1', tier: 'pro' } }, bearer(TOKENS.editor))).json()) as { id: string; result: JobResult };
      assert.equal(ok.result.image.key, `large/${ok.id}.png`);
      const bad = (await (await ingress.post('/generate', { prompt: 'please fail', intent: 'export', account: { id: 'acct-1', tier: 'pro' } }, bearer(TOKENS.editor))).json()) as { id: string };
      await waitUntil('the job to fail', async () => (await ingress.producer.getJob(bad.id)).state === 'failed');
      for (const id of [ok.id, bad.id]) {
        const text = await (await ingress.get(`/jobs/${id}`, bearer(TOKENS.editor))).text();
        assert.ok(!text.includes('/srv/fleet') && !text.includes('file://'), text);
      }
      const failed = (await (await ingress.get(`/jobs/${bad.id}`, bearer(TOKENS.ops))).json()) as { error: { code: string; message: string } };
      assert.equal(failed.error.code, 'E_MODEL_LOAD');
      assert.match(failed.error.message, /model large-v1: <path> has no model_index\.json/);
    } finally {
      await worker.close();
      connection.disconnect();
    }
  });

  test('FLEET_TOKENS_FILE gives the ingress its scoped tokens; FLEET_TOKEN alone is one all-scopes token; both is E_CONFIG', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleet-tokens-'));
    try {
      const file = join(dir, 'tokens.json');
      writeFileSync(file, JSON.stringify({ tokens: [{ name: 'editor', token: TOKENS.editor, tiers: ['pro'], accounts: ['acct-1'] }] }));
      const fromFile = ingressTokens(readConfig({ FLEET_TOKENS_FILE: file }))!;
      assert.deepEqual(fromFile.authenticate(`Bearer ${TOKENS.editor}`), { name: 'editor', tiers: ['pro'], accounts: ['acct-1'], readAllJobs: false });
      assert.equal(fromFile.authenticate(`Bearer ${TOKENS.ops}`), undefined);
      const single = ingressTokens(readConfig({ FLEET_TOKEN: 'one-token-for-everything' }))!;
      assert.equal(single.authenticate('Bearer one-token-for-everything')?.readAllJobs, true);
      assert.equal(ingressTokens(readConfig({})), undefined);
      assert.throws(() => ingressTokens(readConfig({ FLEET_TOKENS_FILE: file, FLEET_TOKEN: 'x' })), (e: unknown) => (e as { code: string }).code === 'E_CONFIG');
      assert.throws(() => ingressTokens(readConfig({ FLEET_TOKENS_FILE: join(dir, 'missing.json') })), (e: unknown) => (e as { code: string }).code === 'E_CONFIG');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a tokens file with a problem is refused with its path (E_CONFIG)', () => {
    assert.throws(() => AccessTokens.parse({ tokens: [{ name: 'x', token: 'short', tiers: '*', accounts: '*' }] }), (e: unknown) => (e as { code: string; field: string }).code === 'E_CONFIG' && (e as { field: string }).field === 'tokens.tokens.0.token');
    assert.throws(() => AccessTokens.parse({ tokens: [{ name: 'x', token: TOKENS.ops, tiers: ['gold'], accounts: '*' }] }), /tokens\.tokens\.0\.tiers/);
    assert.throws(() => AccessTokens.parse({ tokens: [{ name: 'x', token: TOKENS.ops, sha256: 'a'.repeat(64), tiers: '*', accounts: '*' }] }), /exactly one of token and sha256/);
  });
});

describe('HTTP hardening: timeouts, limits and coded refusals from below fastify', () => {
  const prefix = testPrefix();
  let ingress: Awaited<ReturnType<typeof startTestIngress>>;
  before(async () => {
    ingress = await startTestIngress({ redis: REDIS_URL, prefix, ingress: { requestTimeoutMs: 1000, maxConnections: 8 } });
  });
  after(async () => {
    await ingress?.close();
    await cleanupPrefix(prefix);
  });

  test('headers sent and the body never: 408 E_REQUEST_TIMEOUT within the timeout, connection closed', async () => {
    const started = Date.now();
    const answer = await rawExchange(ingress.port, 'POST /generate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":');
    const { status, body } = statusAndBody(answer);
    assert.equal(status, 408);
    assert.equal(body.error.code, 'E_REQUEST_TIMEOUT');
    assert.ok(Date.now() - started < 5000, `answered after ${Date.now() - started} ms`);
  });

  test('connections over the limit are answered 503 E_TOO_MANY_CONNECTIONS; the held ones keep working', async () => {
    const held: Socket[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const socket = connect({ host: '127.0.0.1', port: ingress.port });
        await new Promise((r) => socket.once('connect', r));
        held.push(socket);
      }
      await waitUntil('the server to count the held connections', async () => (await new Promise<number>((r) => ingress.app.server.getConnections((_e, n) => r(n)))) >= 8);
      const { status, body } = statusAndBody(await rawExchange(ingress.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.equal(status, 503);
      assert.equal(body.error.code, 'E_TOO_MANY_CONNECTIONS');
    } finally {
      for (const socket of held) socket.destroy();
    }
    await waitUntil('the limit to free up', async () => (await ingress.get('/healthz').then((r) => r.status, () => 0)) === 200);
  });

  test('431, 414 and malformed HTTP answer { error: { code, message } }', async () => {
    const huge = await rawExchange(ingress.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(statusAndBody(huge).status, 431);
    assert.equal(statusAndBody(huge).body.error.code, 'E_HEADERS_TOO_LARGE');
    const longId = await ingress.get(`/jobs/flash.${'a'.repeat(300)}`);
    assert.equal(longId.status, 414);
    assert.equal(((await longId.json()) as ErrorBody).error.code, 'E_URI_TOO_LONG');
    for (const garbage of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n', 'POST /generate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n']) {
      const { status, body } = statusAndBody(await rawExchange(ingress.port, garbage));
      assert.equal(status, 400, garbage);
      assert.equal(body.error.code, 'E_VALIDATION', garbage);
      assert.equal(typeof body.error.message, 'string');
    }
    const badUrl = await ingress.get('/jobs/%E0%A4%A');
    assert.equal(badUrl.status, 400);
    assert.equal(((await badUrl.json()) as ErrorBody).error.code, 'E_VALIDATION');
  });

  test('a body that is not UTF-8 is refused with E_VALIDATION (not read with U+FFFD); another charset is 415', async () => {
    const latin1 = Buffer.concat([Buffer.from('{"prompt":"caf'), Buffer.from([0xe9]), Buffer.from('","account":{"id":"a1","tier":"pro"}}')]);
    const response = await fetch(`${ingress.base}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: latin1 });
    assert.equal(response.status, 400);
    const body = (await response.json()) as ErrorBody;
    assert.equal(body.error.code, 'E_VALIDATION');
    assert.match(body.error.message, /UTF-8/);
    const declared = await fetch(`${ingress.base}/generate`, { method: 'POST', headers: { 'content-type': 'application/json; charset=iso-8859-1' }, body: latin1 });
    assert.equal(declared.status, 415);
    const fine = await fetch(`${ingress.base}/generate`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: Buffer.from('{"prompt":"café","account":{"id":"a1","tier":"pro"}}') });
    assert.equal(fine.status, 202);
  });
});
