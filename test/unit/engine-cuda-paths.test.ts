// The CUDA paths of the engine's session factory and of the worker's device plan, with a fake of onnxruntime and
// of nvidia-smi's output: no test here (or anywhere) needs or claims a GPU.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type ort from 'onnxruntime-node';
import { FleetError } from '../../contract/index.js';
import { deviceBudgetBytes, planDevice } from '../../workers/engine/device-plan.js';
import { NVIDIA_SMI_ARGS, nvidiaSmiReader, parseNvidiaSmiMemory } from '../../workers/engine/nvidia-smi.js';
import { OnnxSessionFactory, type OnnxRuntime, type RuntimeSession } from '../../workers/engine/onnx-session-factory.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A fake onnxruntime: sessions named after their file, CUDA creations answered from a script (true: created). */
function fakeRuntime(cudaScript: Record<string, boolean[]>, cudaAvailable = true) {
  const attempts: Array<{ file: string; provider: string }> = [];
  const runtime: OnnxRuntime = {
    cudaAvailable: () => cudaAvailable,
    createSession: async (modelPath: string, options: ort.InferenceSession.SessionOptions) => {
      const first = options.executionProviders?.[0];
      const provider = typeof first === 'string' ? first : (first as { name: string }).name;
      const file = modelPath.split('/').pop()!;
      attempts.push({ file, provider });
      if (provider === 'cuda' && !(cudaScript[file]?.shift() ?? true)) throw new Error('CUDA failure 2: out of memory');
      const session: RuntimeSession = {
        inputNames: ['x'],
        outputNames: ['y'],
        inputMetadata: [{ name: 'x', isTensor: true, type: 'float32', shape: [1] }],
        outputMetadata: [{ name: 'y', isTensor: true, type: 'float32', shape: [1] }],
        run: async () => ({}) as never,
        release: async () => {},
      };
      return session;
    },
  };
  return { runtime, attempts };
}

describe('sessions on CUDA (a fake runtime)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fleet-cuda-'));
    for (const file of ['unet.onnx', 'vae.onnx']) await writeFile(join(dir, file), '');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('cuda mode: a failed creation fails that load, coded and with the cause; the next load tries CUDA again', async () => {
    const { runtime, attempts } = fakeRuntime({ 'unet.onnx': [false, true] });
    const factory = new OnnxSessionFactory({ executionProvider: 'cuda', cudaDeviceId: 3, runtime });
    await assert.rejects(factory.create(join(dir, 'unet.onnx')), (error: unknown) => {
      assert.ok(error instanceof FleetError);
      assert.equal(error.code, 'E_OOM', 'an out-of-memory is retryable');
      assert.match(error.message, /could not be loaded on CUDA device 3; the next load tries again/);
      assert.match((error.cause as Error).message, /CUDA failure 2: out of memory/);
      return true;
    });
    const vae = await factory.create(join(dir, 'vae.onnx'));
    assert.equal(vae.executionProvider, 'cuda', 'another model is not sent to the CPU');
    const unet = await factory.create(join(dir, 'unet.onnx'));
    assert.equal(unet.executionProvider, 'cuda');
    assert.deepEqual(attempts.map((a) => a.provider), ['cuda', 'cuda', 'cuda'], 'never the CPU');
  });

  it('auto mode: a failed creation puts that session on the CPU with the reason; later ones try CUDA first', async () => {
    const reports: Array<{ provider: string; file: string; reason?: string }> = [];
    const { runtime, attempts } = fakeRuntime({ 'unet.onnx': [false, true] });
    const factory = new OnnxSessionFactory({
      executionProvider: 'auto',
      runtime,
      onProvider: (provider, path, reason) => reports.push({ provider, file: path.split('/').pop()!, ...(reason === undefined ? {} : { reason: (reason as Error).message }) }),
    });
    assert.equal(factory.preferredProvider, 'cuda');
    assert.equal((await factory.create(join(dir, 'unet.onnx'))).executionProvider, 'cpu');
    assert.equal((await factory.create(join(dir, 'vae.onnx'))).executionProvider, 'cuda');
    assert.equal((await factory.create(join(dir, 'unet.onnx'))).executionProvider, 'cuda');
    assert.deepEqual(reports, [
      { provider: 'cpu', file: 'unet.onnx', reason: 'CUDA failure 2: out of memory' },
      { provider: 'cuda', file: 'vae.onnx' },
      { provider: 'cuda', file: 'unet.onnx' },
    ]);
    assert.deepEqual(attempts.map((a) => `${a.file}:${a.provider}`), ['unet.onnx:cuda', 'unet.onnx:cpu', 'vae.onnx:cuda', 'unet.onnx:cuda']);
  });

  it('auto mode without a CUDA provider goes straight to the CPU; a bad mode is refused', async () => {
    const { runtime, attempts } = fakeRuntime({}, false);
    const factory = new OnnxSessionFactory({ executionProvider: 'auto', runtime });
    assert.equal(factory.preferredProvider, 'cpu');
    assert.equal((await factory.create(join(dir, 'vae.onnx'))).executionProvider, 'cpu');
    assert.deepEqual(attempts.map((a) => a.provider), ['cpu']);
    assert.throws(() => new OnnxSessionFactory({ executionProvider: 'gpu' as never }), /executionProvider must be one of auto, cuda, cpu, got gpu/);
  });
});

describe('the device plan', () => {
  it('a GPU worker without a CUDA provider refuses to start unless allowed onto the CPU', () => {
    assert.throws(() => planDevice({ gpu: 1, allowCpu: false, cudaAvailable: false }), (error: unknown) => {
      assert.ok(error instanceof FleetError);
      assert.equal(error.code, 'E_DEVICE_UNAVAILABLE');
      assert.match(error.message, /--gpu 1 .*no usable CUDA provider.*--allow-cpu/);
      return true;
    });
    const allowed = planDevice({ gpu: 1, allowCpu: true, cudaAvailable: false });
    assert.deepEqual([allowed.device, allowed.mode], ['cpu', 'cpu']);
    assert.match(allowed.warning!, /running on the CPU \(--allow-cpu\)/);
  });

  it('CUDA strictly, or with a per-session fallback when allowed; a CPU worker on the CPU', () => {
    assert.deepEqual(planDevice({ gpu: 0, allowCpu: false, cudaAvailable: true }), { device: 'cuda', mode: 'cuda', description: 'cuda:0' });
    assert.deepEqual(planDevice({ gpu: 2, allowCpu: true, cudaAvailable: true }), { device: 'cuda', mode: 'auto', description: 'cuda:2 (cpu allowed)' });
    assert.deepEqual(planDevice({ gpu: undefined, allowCpu: false, cudaAvailable: true }), { device: 'cpu', mode: 'cpu', description: 'cpu' });
  });

  it("without --vram the budget is the device's total less what is in use, less the margin", () => {
    assert.equal(deviceBudgetBytes({ totalBytes: 24 * GiB, usedBytes: 2 * GiB }, GiB), 21 * GiB);
    assert.throws(() => deviceBudgetBytes({ totalBytes: 8 * GiB, usedBytes: 7.5 * GiB }, GiB), /nothing is left to budget/);
  });
});

describe('nvidia-smi', () => {
  const output = '0, 1024, 24576\n1, 20480, 24576\n';

  it('reads the asked device of a multi-GPU listing, in bytes', () => {
    assert.deepEqual(parseNvidiaSmiMemory(output, 1), { usedBytes: 20480 * MiB, totalBytes: 24576 * MiB });
    assert.deepEqual(parseNvidiaSmiMemory(' 0 ,  1024 , 24576 \r\n', 0), { usedBytes: 1024 * MiB, totalBytes: 24576 * MiB });
  });

  it('refuses a device it does not list, or one without figures (MIG slices say [N/A])', () => {
    assert.throws(() => parseNvidiaSmiMemory(output, 2), (e: unknown) => e instanceof FleetError && e.code === 'E_DEVICE_UNAVAILABLE' && /lists no GPU 2/.test(e.message));
    assert.throws(() => parseNvidiaSmiMemory('0, [N/A], [N/A]\n', 0), /no memory figures for GPU 0/);
  });

  it('runs the query it documents and codes its failures, the cause kept', async () => {
    const calls: Array<{ file: string; args: readonly string[] }> = [];
    const read = nvidiaSmiReader(1, { exec: async (file, args) => (calls.push({ file, args }), output) });
    assert.deepEqual(await read(), { usedBytes: 20480 * MiB, totalBytes: 24576 * MiB });
    assert.deepEqual(calls, [{ file: 'nvidia-smi', args: ['--query-gpu=index,memory.used,memory.total', '--format=csv,noheader,nounits'] }]);
    assert.deepEqual([...NVIDIA_SMI_ARGS], calls[0]!.args);
    const missing = Object.assign(new Error('spawn nvidia-smi ENOENT'), { code: 'ENOENT' });
    const failing = nvidiaSmiReader(0, { exec: async () => Promise.reject(missing) });
    await assert.rejects(failing(), (e: unknown) => e instanceof FleetError && e.code === 'E_DEVICE_UNAVAILABLE' && e.cause === missing);
  });
});
