import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOutOfMemoryError } from '../../batching/index.js';
import type { ModelSession } from '../../workers/engine/onnx-session-factory.js';
import { runForFloatOutput } from '../../workers/pipelines/run-session.js';

/** A session whose run fails as the runtime would, with `message`. */
function failingWith(message: string): ModelSession {
  return { modelPath: 'unet/model.onnx', inputs: [], outputs: [], run: () => Promise.reject(new Error(message)), release: async () => {} } as unknown as ModelSession;
}

test("a runtime failure is E_OOM exactly when the fleet's one isOutOfMemoryError says so, with the runtime's error as the cause", async () => {
  const messages = ['CUDA out of memory. Tried to allocate 2 GiB', '[ONNXRuntimeError] OOM in BFCArena', 'std::bad_alloc', 'CUBLAS_STATUS_ALLOC_FAILED', 'Non-zero status code returned while running Conv node', 'no room in the bathroom'];
  for (const message of messages) {
    const runtimeError = new Error(message);
    await assert.rejects(runForFloatOutput(failingWith(message), {}, 'out'), (error: { code?: string; cause?: unknown; message: string }) => {
      assert.equal(error.code, isOutOfMemoryError(runtimeError) ? 'E_OOM' : 'E_INFERENCE', message);
      assert.equal((error.cause as Error).message, message, 'the runtime message is kept as the cause');
      return true;
    });
  }
  // The word OOM alone, which the pipeline's own pattern once missed.
  await assert.rejects(runForFloatOutput(failingWith('[ONNXRuntimeError] OOM in BFCArena'), {}, 'out'), { code: 'E_OOM' });
});
