import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand } from '@aws-sdk/client-s3';
// @ts-expect-error no types
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import sharp from 'sharp';
import type { GenerateRequestInput, JobView } from '../../contract/index.js';
import type { Producer } from '../../producer/index.js';
import { S3Store } from '../../workers/index.js';
import { OcrChecker } from '../../workers/typography/index.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { S3_TEST_CREDENTIALS, startS3rver, testS3Client } from '../helpers/s3.js';
import { startTestWorker } from '../helpers/worker.js';
import { startTestProducer } from '../helpers/producer.js';

const account = { id: 'acct-path', tier: 'pro' as const };

async function sourcePng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 200, g: 80, b: 40 } } })
    .composite([{ input: Buffer.from(`<svg width="${width}" height="${height}"><circle cx="${width / 2}" cy="${height / 2}" r="${width / 3}" fill="#2050c0"/></svg>`) }])
    .png()
    .toBuffer();
}

async function render(producer: Producer, request: GenerateRequestInput): Promise<JobView> {
  const receipt = await producer.enqueue(request);
  const view = await producer.waitForResult(receipt.id, { timeoutMs: 60_000 });
  assert.equal(view.state, 'completed', `${receipt.id}: ${JSON.stringify(view.error)}`);
  return view;
}

describe('whole path on real Redis with the file store: producer → router → queue → batcher → ONNX → sharp → store', () => {
  const prefix = testPrefix();
  let producer: Producer;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;

  before(async () => {
    fleet = await startTestWorker(prefix);
    producer = await startTestProducer(prefix);
  });
  after(async () => {
    await producer.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
  });

  test('flash: a preview with its thumbnail; same prompt and seed give the same bytes, others differ', async () => {
    const request = { prompt: 'watercolor fox in a misty forest', seed: 42, width: 512, height: 512, account };
    const [a, b, otherSeed, otherPrompt] = await Promise.all([
      render(producer, request),
      render(producer, request),
      render(producer, { ...request, seed: 43 }),
      render(producer, { ...request, prompt: 'isometric coffee shop' }),
    ]);
    assert.equal(a.lane, 'flash');
    const bytes = async (v: JobView) => fleet.store.get(v.result!.image.key);
    const [ba, bb, bs, bp] = (await Promise.all([a, b, otherSeed, otherPrompt].map(bytes))) as [Buffer, Buffer, Buffer, Buffer];
    assert.ok(ba.equals(bb), 'same prompt and seed must give the same bytes');
    assert.ok(!ba.equals(bs), 'another seed must give another image');
    assert.ok(!ba.equals(bp), 'another prompt must give another image');
    const meta = await sharp(ba).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', 512, 512]);
    assert.ok(a.result!.thumbnail, 'previews carry a thumbnail');
    assert.ok(await fleet.store.exists(a.result!.thumbnail!.key));
    assert.ok(a.result!.timings.endToEndMs! > 0 && a.result!.batch!.size >= 1);
  });

  test('flash: a size the model does not render natively comes out at exactly the size asked, as webp', async () => {
    const view = await render(producer, { prompt: 'draft layout background, soft bokeh', width: 768, height: 432, format: 'webp', account });
    const meta = await sharp(await fleet.store.get(view.result!.image.key)).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['webp', 768, 432]);
  });

  test('large: an export on the big model', async () => {
    const view = await render(producer, { prompt: 'cinematic wide shot of a lighthouse in a storm', intent: 'export', width: 640, height: 512, account });
    assert.deepEqual([view.lane, view.model], ['large', 'large-v1']);
    assert.equal(view.result!.thumbnail, undefined, 'exports carry no thumbnail');
    const meta = await sharp(await fleet.store.get(view.result!.image.key)).metadata();
    assert.deepEqual([meta.width, meta.height], [640, 512]);
  });

  test('typography: the stored image carries the text and the result its OCR report', async () => {
    const view = await render(producer, { prompt: 'poster for a summer festival', text: { content: 'SUNSET BEATS' }, width: 768, height: 512, account });
    assert.equal(view.lane, 'typography');
    const text = view.result!.text as { expected: string; read: string; cer: number; passed: boolean; attempts: number };
    assert.equal(text.expected, 'SUNSET BEATS');
    assert.equal(text.passed, true);
    assert.ok(text.cer <= 0.05);
    assert.match(text.read.replace(/\s+/g, ' '), /SUNSET BEATS/);
    // Read the stored artifact itself back, independently of the worker's own check.
    const stored = await sharp(await fleet.store.get(view.result!.image.key)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const ocr = await OcrChecker.load();
    const reading = await ocr.read({ pixels: stored.data, width: stored.info.width, height: stored.info.height, channels: 3 }, { left: 0, top: 0, width: stored.info.width, height: stored.info.height }, 80);
    assert.match(reading.text.replace(/\s+/g, ' '), /SUNSET ?BEATS/);
    const noText = await render(producer, { prompt: 'street sign lettering, hand painted', width: 512, height: 512, account });
    assert.deepEqual(noText.result!.text, { checked: false, reason: 'no text to draw: the request has no text field and the prompt no quoted text' });
  });

  test('upscale: a stored source comes back scale × larger', async () => {
    await fleet.store.put('sources/sample-0.png', await sourcePng(96, 64), 'image/png');
    const view = await render(producer, { prompt: 'upscale the approved render', intent: 'upscale', source: { key: 'sources/sample-0.png' }, account });
    assert.deepEqual([view.lane, view.model], ['upscale', 'upscale-x2']);
    const meta = await sharp(await fleet.store.get(view.result!.image.key)).metadata();
    assert.deepEqual([meta.width, meta.height], [192, 128]);
    const x4 = await render(producer, { prompt: 'upscale', intent: 'upscale', scale: 4, width: 256, height: 256, source: { key: 'sources/sample-0.png' }, account });
    const meta4 = await sharp(await fleet.store.get(x4.result!.image.key)).metadata();
    assert.deepEqual([x4.model, meta4.width, meta4.height], ['upscale-x4', 256, 256]);
  });

  test('failures carry their code: a missing upscale source fails at once with E_SOURCE', async () => {
    const receipt = await producer.enqueue({ prompt: 'upscale', intent: 'upscale', source: { key: 'sources/missing.png' }, account });
    const view = await producer.waitForResult(receipt.id, { timeoutMs: 30_000 });
    assert.equal(view.state, 'failed');
    assert.equal(view.error?.code, 'E_SOURCE');
    assert.equal(view.attempts, 1, 'not retried');
  });

  test('/metrics parses as Prometheus exposition and carries the worker series', async () => {
    const families = parsePrometheusTextFormat(await fleet.registry.metrics()) as Array<{ name: string; metrics: Array<{ labels?: Record<string, string> }> }>;
    const names = new Set(families.map((f) => f.name));
    for (const name of [
      'fleet_queue_wait_seconds', 'fleet_batch_wait_seconds', 'fleet_inference_seconds', 'fleet_postprocess_seconds', 'fleet_upload_seconds',
      'fleet_end_to_end_seconds', 'fleet_batch_size', 'fleet_vram_budget_bytes', 'fleet_vram_in_use_bytes', 'fleet_oom_total',
      'fleet_jobs_completed_total', 'fleet_jobs_failed_total', 'fleet_cost_units_total',
    ]) {
      assert.ok(names.has(name), `missing ${name}`);
    }
    const failed = families.find((f) => f.name === 'fleet_jobs_failed_total')!;
    assert.ok(failed.metrics.some((m) => m.labels?.code === 'E_SOURCE'));
    assert.ok(fleet.logs.some((l) => l.includes('"batchId"') && l.includes('"jobId"')), 'logs carry job and batch ids');
    // At info level one line per batch names its jobs.
    const batchLines = fleet.logs.map((l) => JSON.parse(l) as { level: number; msg: string; batchId?: string; jobIds?: string[]; size?: number }).filter((l) => l.msg === 'batch ran');
    assert.ok(batchLines.length > 0 && batchLines.every((l) => l.level === 30 && typeof l.batchId === 'string' && l.jobIds?.length === l.size), JSON.stringify(batchLines[0]));
    const completed = families.find((f) => f.name === 'fleet_jobs_completed_total')!;
    assert.ok(completed.metrics.some((m) => m.labels?.lane === 'flash' && m.labels?.model === 'flash-v1'), 'completions counted by lane and model');
  });
});

describe('whole path with the S3 store (s3rver)', () => {
  const prefix = testPrefix();
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let store: S3Store;
  let producer: Producer;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;

  before(async () => {
    s3 = await startS3rver();
    store = new S3Store({ bucket: s3.bucket, prefix: 'renders', endpoint: s3.endpoint, credentials: S3_TEST_CREDENTIALS });
    fleet = await startTestWorker(prefix, { store });
    producer = await startTestProducer(prefix);
  });
  after(async () => {
    await producer.close();
    await fleet.stop();
    await s3.stop();
    await cleanupPrefix(prefix);
  });

  test('every lane stores its image in the bucket under the prefix (the upscale reads its source from S3)', async () => {
    const [exported, typography] = await Promise.all([
      render(producer, { prompt: 'oil painting of a harbor', intent: 'export', width: 512, height: 512, account }),
      render(producer, { prompt: 'flyer', text: { content: 'OPEN LATE' }, width: 512, height: 512, account }),
    ]);
    assert.match(exported.result!.image.url, /^s3:\/\/fleet-test\/renders\/large\//);
    assert.match(typography.result!.image.url, /^s3:\/\/fleet-test\/renders\/typography\//);
    assert.equal((typography.result!.text as { passed: boolean }).passed, true);
    assert.ok(await store.exists(exported.result!.image.key));
    assert.ok(await store.exists(typography.result!.image.key));

    const view = await render(producer, { prompt: 'low-poly mountain landscape at dusk', seed: 7, account });
    assert.match(view.result!.image.url, /^s3:\/\/fleet-test\/renders\/flash\//);
    const reader = testS3Client(s3.endpoint);
    const body = await reader
      .send(new GetObjectCommand({ Bucket: s3.bucket, Key: `renders/${view.result!.image.key}` }))
      .then(async (object) => Buffer.from(await object.Body!.transformToByteArray()))
      .finally(() => reader.destroy());
    assert.equal(body.length, view.result!.image.bytes);
    assert.equal((await sharp(body).metadata()).width, 512);

    await store.put('sources/s3-source.png', await sourcePng(64, 64), 'image/png');
    const up = await render(producer, { prompt: 'upscale', intent: 'upscale', source: { key: 'sources/s3-source.png' }, account });
    assert.equal((await sharp(await store.get(up.result!.image.key)).metadata()).width, 128);
    assert.deepEqual((await store.list('flash/')).filter((k) => k.startsWith(`flash/${view.id}`)).sort(), [`flash/${view.id}.png`, `flash/${view.id}.thumb.webp`]);
  });
});
