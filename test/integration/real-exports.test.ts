// Real exports drop in: for each family × precision × exporter, a folder shaped exactly as the exporter writes it
// (names, dtypes, dims, configs, external data) with oracle weights runs through a real worker on real Redis, at
// batch 1 and 4, with and without guidance; every pixel must land within 2/255 of the oracle's colour.
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { createProducer, type Producer } from '../../producer/index.js';
import { CompiledPolicy, staticPolicySource } from '../../router/index.js';
import { writeExport } from '../../scripts/onnx/exports/write-export.js';
import { expectedOraclePixel } from '../../scripts/onnx/exports/oracle.js';
import { ORACLE_EXPORTS, oracleFolder, oracleManifest, type OracleExport } from '../helpers/oracle-exports.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';

const account = { id: 'acct-exports', tier: 'pro' as const };

function routeTo(model: string) {
  const policy = new CompiledPolicy({ name: `to-${model}`, typographicWords: [], rules: [{ id: 'all', lane: 'flash', model }] }, 1);
  return staticPolicySource(policy);
}

async function maxDeviation(png: Buffer, expected: readonly number[]): Promise<number> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  let worst = 0;
  for (let i = 0; i < data.length; i += info.channels) {
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(data[i + c]! - expected[c]!));
  }
  return worst;
}

describe('real exports drop in: oracle folders shaped like Optimum, diffusers-script and fp16 exports, through a real worker', { concurrency: 1 }, () => {
  const prefix = testPrefix();
  let modelsDir: string;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;
  const producers: Producer[] = [];

  before(async () => {
    modelsDir = await mkdtemp(join(tmpdir(), 'fleet-oracle-exports-'));
    for (const entry of ORACLE_EXPORTS) {
      const first = join(modelsDir, oracleFolder(entry, entry.guidance[0]));
      await writeExport({ ...entry.spec, manifest: oracleManifest(entry, entry.guidance[0]) }, first);
      if (entry.guidance[1] !== undefined) {
        const second = join(modelsDir, oracleFolder(entry, entry.guidance[1]));
        await cp(first, second, { recursive: true });
        await writeFile(join(second, 'manifest.json'), JSON.stringify(oracleManifest(entry, entry.guidance[1])));
      }
    }
    fleet = await startTestWorker(prefix, {
      modelsDir,
      lanes: ['flash'],
      // Four jobs enqueued together must form one batch of four: no early flush on an idle device, no adaptive size.
      // A lone job waits out maxLatencyMs in every case: it is set well above how far apart four jobs enqueued
      // together reach the batcher, and no higher.
      batching: { flash: { maxBatchSize: 4, maxLatencyMs: 1500 } },
      adaptiveBatching: false,
      batcherOverrides: { flushWhenIdle: false },
    });
  });
  after(async () => {
    await Promise.all(producers.map((p) => p.close()));
    await fleet?.stop();
    await cleanupPrefix(prefix);
    await rm(modelsDir, { recursive: true, force: true });
  });

  async function renderCase(entry: OracleExport, guidance: number, batch: number): Promise<void> {
    const model = oracleFolder(entry, guidance);
    const producer = createProducer({ redis: REDIS_URL, prefix, policy: routeTo(model) });
    producers.push(producer);
    await producer.ready();
    const receipts = await Promise.all(
      Array.from({ length: batch }, (_, i) => producer.enqueue({ prompt: `a red fox ${i}`, seed: 100 + i, width: entry.size, height: entry.size, format: 'png', account })),
    );
    const cfg = entry.spec.pipelineClass !== 'LatentConsistencyModelPipeline' && entry.spec.timeCondProjDim === undefined;
    const expected = expectedOraclePixel(entry.spec, {
      guidanceScale: guidance,
      guided: cfg && guidance > 1,
      negative: entry.spec.family === 'sdxl' ? 'zeros' : 'empty',
      width: entry.size,
      height: entry.size,
    });
    for (const receipt of receipts) {
      const view = await producer.waitForResult(receipt.id, { timeoutMs: 120_000 });
      assert.equal(view.state, 'completed', `${model}: ${JSON.stringify(view.error)}`);
      assert.equal(view.result!.model, model);
      assert.equal(view.result!.batch!.size, batch, `${model}: expected one batch of ${batch}`);
      const png = (await fleet.store.get(view.result!.image.key))!;
      const worst = await maxDeviation(png, expected);
      assert.ok(worst <= 2, `${model} batch ${batch}: a pixel is ${worst}/255 off the oracle colour [${expected.join(', ')}]`);
    }
  }

  for (const entry of ORACLE_EXPORTS) {
    for (const guidance of entry.guidance.filter((g): g is number => g !== undefined)) {
      it(`${entry.label}, guidance ${guidance}: batch 1 and batch 4 land on the oracle colour`, async () => {
        await renderCase(entry, guidance, 1);
        await renderCase(entry, guidance, 4);
      });
    }
  }
});
