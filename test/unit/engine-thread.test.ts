import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { FleetError } from '../../contract/index.js';
import { EngineSessionFactory } from '../../workers/engine/engine-session-factory.js';
import { InferenceEngine } from '../../workers/engine/inference-engine.js';
import { OnnxSessionFactory } from '../../workers/engine/onnx-session-factory.js';
import { withoutTsxLoader } from '../../workers/engine/spawn-engine-thread.js';
import { OnnxGraphBuilder } from '../../scripts/onnx/onnx-graph-builder.js';
import { buildModels } from '../../scripts/build-models.js';
import { MODELS_DIR } from '../helpers/worker.js';

const UPSCALER = join(MODELS_DIR, 'upscale-x2', 'model.onnx');

/** y = x·Iⁿ: a run that holds its thread for a while (n MatMuls of 1024², started from the input so nothing folds). */
function slowGraph(matmuls: number): Uint8Array {
  const side = 1024;
  const g = new OnnxGraphBuilder('slow');
  g.input('x', 'float32', [1]);
  const identity = new Float32Array(side * side);
  for (let i = 0; i < side; i++) identity[i * side + i] = 1;
  const eye = g.floats('eye', [side, side], identity);
  let product = g.op('Mul', [eye, 'x']);
  for (let i = 0; i < matmuls; i++) product = g.op('MatMul', [product, eye]);
  g.op('ReduceMean', [product], { keepdims: 0 }, 'y');
  g.output('y', 'float32', []);
  return g.toBytes();
}

function image(side: number): Float32Array {
  return Float32Array.from({ length: 3 * side * side }, (_, i) => (i % 97) / 97);
}

describe('the inference engine thread', () => {
  let scratch: string;
  before(async () => {
    await buildModels({ outDir: MODELS_DIR });
    scratch = await mkdtemp(join(tmpdir(), 'fleet-engine-'));
  });
  after(() => rm(scratch, { recursive: true, force: true }));

  it('runs a session as the in-process one does, leaves the caller its feeds, and reports the provider', async () => {
    const providers: string[] = [];
    const engine = new InferenceEngine();
    try {
      const session = await new EngineSessionFactory(engine, { onProvider: (p) => providers.push(p) }).create(UPSCALER);
      const local = await new OnnxSessionFactory({ executionProvider: 'cpu' }).create(UPSCALER);
      assert.deepEqual(session.inputs, local.inputs);
      assert.deepEqual(session.outputs, local.outputs);
      assert.equal(session.executionProvider, 'cpu');
      assert.deepEqual(providers, ['cpu']);
      const input = image(16);
      const feeds = { input: new ort.Tensor('float32', input, [1, 3, 16, 16]) };
      const remote = await session.run(feeds);
      const expected = await local.run({ input: new ort.Tensor('float32', input.slice(), [1, 3, 16, 16]) });
      assert.deepEqual(remote.output!.dims, [1, 3, 32, 32]);
      assert.deepEqual(remote.output!.data, expected.output!.data);
      // Copied to the thread, not transferred: pipelines feed the same buffers at every step.
      assert.equal(input.length, 3 * 16 * 16);
      assert.equal(input[5], Math.fround(5 / 97));
      await session.release();
      await local.release();
    } finally {
      await engine.close();
    }
  });

  it('converts float16 exports in the thread: float32 crosses both ways', async () => {
    const g = new OnnxGraphBuilder('half');
    g.input('half_in', 'float16', [2]);
    g.op('Identity', ['half_in'], {}, 'half_out');
    g.output('half_out', 'float16', [2]);
    const path = join(scratch, 'half.onnx');
    await writeFile(path, g.toBytes());
    const engine = new InferenceEngine();
    try {
      const session = await new EngineSessionFactory(engine).create(path);
      assert.equal(session.inputs[0]!.type, 'float16', 'the declared type is reported');
      const out = await session.run({ half_in: new ort.Tensor('float32', Float32Array.from([1.5, -2]), [2]) });
      assert.equal(out.half_out!.type, 'float32');
      assert.deepEqual([...(out.half_out!.data as Float32Array)], [1.5, -2]);
    } finally {
      await engine.close();
    }
  });

  it("keeps the runtime's error, message intact, and codes what the runtime cannot load", async () => {
    const engine = new InferenceEngine();
    try {
      const session = await new EngineSessionFactory(engine).create(UPSCALER);
      await assert.rejects(session.run({ input: new ort.Tensor('float32', new Float32Array(3), [1, 3]) }), (error: unknown) => {
        assert.ok(error instanceof Error && !(error instanceof FleetError));
        assert.match(error.message, /input|rank|dimension/i);
        return true;
      });
      await writeFile(join(scratch, 'garbage.onnx'), 'not a model');
      await assert.rejects(new EngineSessionFactory(engine).create(join(scratch, 'garbage.onnx')), (error: unknown) => {
        assert.ok(error instanceof FleetError);
        assert.equal(error.code, 'E_MODEL_LOAD');
        assert.ok(error.cause instanceof Error, 'the runtime error is the cause');
        return true;
      });
    } finally {
      await engine.close();
    }
  });

  it('a thread that dies fails its calls with E_ENGINE_LOST (retryable); the next run re-creates the session in a new thread', async () => {
    const lost: FleetError[] = [];
    const engine = new InferenceEngine({ onLost: (error) => lost.push(error) });
    try {
      const session = await new EngineSessionFactory(engine).create(UPSCALER);
      const feeds = () => ({ input: new ort.Tensor('float32', image(8), [1, 3, 8, 8]) });
      engine.dieForTest('exit');
      // Queued behind the death: it never runs.
      await assert.rejects(session.run(feeds()), (error: unknown) => error instanceof FleetError && error.code === 'E_ENGINE_LOST' && error.retryable);
      assert.equal(lost.length, 1);
      assert.match(lost[0]!.message, /exited \(code 70\)/);
      const out = await session.run(feeds());
      assert.deepEqual(out.output!.dims, [1, 3, 16, 16]);
      assert.equal(engine.restarts, 1);

      engine.dieForTest('throw');
      await assert.rejects(session.run(feeds()), (error: unknown) => error instanceof FleetError && error.code === 'E_ENGINE_LOST' && /uncaught error/.test(String((error.cause as Error)?.message)));
      assert.deepEqual((await session.run(feeds())).output!.dims, [1, 3, 16, 16]);
      assert.equal(engine.restarts, 2);
    } finally {
      await engine.close();
    }
  });

  it('kill() fails a run at once, mid-call, without taking the process down; the thread ends once the call returns', async () => {
    const path = join(scratch, 'slow.onnx');
    await writeFile(path, slowGraph(100));
    const engine = new InferenceEngine();
    try {
      const session = await new EngineSessionFactory(engine).create(path);
      const feeds = () => ({ x: new ort.Tensor('float32', Float32Array.from([2]), [1]) });
      const started = performance.now();
      const untouched = await session.run(feeds());
      const runMs = performance.now() - started;
      assert.equal((untouched.y!.data as Float32Array)[0], 2 / 1024);
      const running = session.run(feeds());
      await new Promise((resolve) => setTimeout(resolve, runMs / 4));
      assert.equal(engine.callsInFlight, 1);
      const killedAt = performance.now();
      const terminated = engine.kill();
      await assert.rejects(running, (error: unknown) => error instanceof FleetError && error.code === 'E_ENGINE_LOST');
      assert.ok(performance.now() - killedAt < runMs / 2, 'failed at once, not when the call returned');
      await terminated;
      assert.deepEqual(await session.run(feeds()).then((out) => (out.y!.data as Float32Array)[0]), 2 / 1024);
    } finally {
      await engine.close();
    }
  });

  it('a closed engine takes no more work, and releases of its sessions are no-ops', async () => {
    const engine = new InferenceEngine();
    const session = await new EngineSessionFactory(engine).create(UPSCALER);
    await engine.close();
    await session.release();
    await assert.rejects(new EngineSessionFactory(engine).create(UPSCALER), (error: unknown) => error instanceof FleetError && error.code === 'E_SHUTDOWN');
  });

  it('a kill for a shutdown past its deadline fails runs with E_SHUTDOWN and starts no new thread', async () => {
    const engine = new InferenceEngine();
    try {
      const session = await new EngineSessionFactory(engine).create(UPSCALER);
      await engine.kill('shutdown');
      await assert.rejects(session.run({ input: new ort.Tensor('float32', image(8), [1, 3, 8, 8]) }), (error: unknown) => error instanceof FleetError && error.code === 'E_SHUTDOWN');
      assert.equal(engine.restarts, 0);
    } finally {
      await engine.close();
    }
  });

  it("starts from the TypeScript sources: tsx's flags are left out of the thread's, the rest kept", () => {
    assert.deepEqual(withoutTsxLoader(['--import', 'tsx', '--enable-source-maps']), ['--enable-source-maps']);
    assert.deepEqual(withoutTsxLoader(['--import=tsx', '--max-old-space-size=512']), ['--max-old-space-size=512']);
    assert.deepEqual(withoutTsxLoader(['--import', '/srv/node_modules/tsx/dist/loader.mjs']), []);
    assert.deepEqual(withoutTsxLoader(['--loader', 'tsx/esm', '--import', './telemetry.mjs']), ['--import', './telemetry.mjs']);
  });
});
