import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Producer } from '../../producer/index.js';
import type { ModelSession, SessionFactory } from '../../workers/index.js';
import { OnnxSessionFactory } from '../../workers/engine/onnx-session-factory.js';
import { OCR_MODEL_FILES } from '../../workers/typography/ocr-model-files.js';
import { startTestProducer } from '../helpers/producer.js';
import { cleanupPrefix, testPrefix } from '../helpers/redis.js';
import { startTestWorker } from '../helpers/worker.js';

/** A factory that remembers every model it opened and how often each ran, around real onnxruntime sessions. */
class RecordingSessionFactory implements SessionFactory {
  readonly runs = new Map<string, number>();
  private readonly inner = new OnnxSessionFactory({ executionProvider: 'cpu' });

  async create(modelPath: string): Promise<ModelSession> {
    const session = await this.inner.create(modelPath);
    this.runs.set(modelPath, 0);
    return {
      modelPath: session.modelPath,
      inputs: session.inputs,
      outputs: session.outputs,
      executionProvider: session.executionProvider,
      run: (feeds, fetches) => {
        this.runs.set(modelPath, (this.runs.get(modelPath) ?? 0) + 1);
        return session.run(feeds, fetches);
      },
      release: () => session.release(),
    };
  }
}

describe("the typography lane's OCR runs where the worker's models run", () => {
  const prefix = testPrefix();
  const sessions = new RecordingSessionFactory();
  let producer: Producer;
  let fleet: Awaited<ReturnType<typeof startTestWorker>>;

  before(async () => {
    // The worker's device factory: in production the inference engine's (a thread of its own, the worker's device).
    fleet = await startTestWorker(prefix, { lanes: ['typography'], sessionFactory: sessions });
    producer = await startTestProducer(prefix);
  });
  after(async () => {
    await producer.close();
    await fleet.stop();
    await cleanupPrefix(prefix);
  });

  test('the font probe at start and a job\'s text check open and run the OCR models through the worker\'s session factory, not on a session of their own', async () => {
    const detection = OCR_MODEL_FILES.detectionPath;
    const recognition = OCR_MODEL_FILES.recognitionPath;
    assert.ok(sessions.runs.has(detection) && sessions.runs.has(recognition), `opened: ${[...sessions.runs.keys()].join(', ')}`);
    const probeRuns = sessions.runs.get(recognition)!;
    assert.ok(probeRuns > 0, 'the start-up font probe read its word back through the factory');
    const receipt = await producer.enqueue({ prompt: 'poster for a summer festival', text: { content: 'SUNSET BEATS' }, width: 512, height: 512, account: { id: 'acct-ocr', tier: 'pro' } });
    const view = await producer.waitForResult(receipt.id, { timeoutMs: 120_000 });
    assert.equal(view.state, 'completed', JSON.stringify(view.error));
    assert.equal((view.result!.text as { passed: boolean }).passed, true);
    assert.ok(sessions.runs.get(recognition)! > probeRuns, 'the job\'s text check ran the recogniser through the factory');
    assert.ok(sessions.runs.get(detection)! > 0);
  });
});
