import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { UnrecoverableError } from 'bullmq';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { FleetError, type JobData, type JobResult } from '../../contract/index.js';
import { LaneOutcomes, type LaneOutcomesOptions } from '../../workers/consumer/lane-outcomes.js';
import { WorkerMetrics } from '../../workers/index.js';

const data: JobData = {
  request: { prompt: 'a lighthouse at dusk', intent: 'preview', format: 'png', account: { id: 'acct-1', tier: 'pro' }, seed: 7 },
  size: { width: 512, height: 512 },
  lane: 'flash',
  model: 'sd-turbo',
  policy: { version: 3, rule: 'default' },
  enqueuedAt: 0,
};

function setup() {
  const registry = new Registry();
  const calls: Array<[string, ...unknown[]]> = [];
  const recorder: LaneOutcomesOptions['recorder'] = {
    observeJob: (...args) => void calls.push(['observeJob', ...args]),
    observeModelJob: (...args) => void calls.push(['observeModelJob', ...args]),
    count: (...args) => void calls.push(['count', ...args]),
    countModelFailure: (...args) => void calls.push(['countModelFailure', ...args]),
  };
  const lines: Array<Record<string, unknown>> = [];
  const log = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const outcomes = new LaneOutcomes({ lane: 'flash', metrics: new WorkerMetrics(registry), recorder });
  return { registry, calls, lines, log, outcomes };
}

/** The value of one series in the registry's exposition, `name{labels}` as Prometheus writes it. */
async function value(registry: Registry, series: string): Promise<number | undefined> {
  const line = (await registry.metrics()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

test('LaneOutcomes.completed observes the lane histograms, counts the model and tells the recorder', async () => {
  const { registry, calls, outcomes } = setup();
  const result = { timings: { queueWaitMs: 250, batchWaitMs: 40, endToEndMs: 1500 }, costUnits: 2 } as JobResult;
  outcomes.completed(data, result, { postProcessMs: 30, uploadMs: 20 });
  outcomes.completed(data, result, { postProcessMs: 30, uploadMs: 20 });
  assert.equal(await value(registry, 'fleet_jobs_completed_total{lane="flash",model="sd-turbo"}'), 2);
  assert.equal(await value(registry, 'fleet_cost_units_total{lane="flash",model="sd-turbo"}'), 4);
  assert.equal(await value(registry, 'fleet_queue_wait_seconds_sum{lane="flash"}'), 0.5);
  assert.equal(await value(registry, 'fleet_upload_seconds_count{lane="flash"}'), 2);
  assert.deepEqual(calls[0], ['observeJob', 'flash', result.timings]);
  assert.deepEqual(calls[1], ['observeModelJob', data, result]);
  assert.equal(calls.length, 4);
});

test('LaneOutcomes.failure codes a retryable attempt, and counts the job failed only at its last attempt', async () => {
  const { registry, calls, lines, log, outcomes } = setup();
  const error = new FleetError('E_INFERENCE', 'unet/model.onnx failed while running', { cause: new Error('Non-zero status code') });
  const first = outcomes.failure({ data, attemptsMade: 0, opts: { attempts: 2 } }, error, log);
  assert.ok(!(first instanceof UnrecoverableError));
  assert.equal(first.message, '[E_INFERENCE] unet/model.onnx failed while running: Non-zero status code');
  assert.deepEqual(calls, [], 'an attempt with a retry left is not a failed job');
  assert.equal(lines[0]!.level, 40);
  assert.match((lines[0]!.err as { message: string }).message, /Non-zero status code/, 'the runtime\'s words are logged with the error');
  const last = outcomes.failure({ data, attemptsMade: 1, opts: { attempts: 2 } }, error, log);
  assert.ok(!(last instanceof UnrecoverableError));
  assert.deepEqual(calls, [['count', 'flash', 'failed'], ['countModelFailure', data, 'E_INFERENCE']]);
  assert.equal(lines[1]!.level, 50);
  assert.equal(await value(registry, 'fleet_jobs_failed_total{lane="flash",model="sd-turbo",code="E_INFERENCE"}'), 2);
});

test('LaneOutcomes.failure makes what retrying cannot fix unrecoverable at its first attempt', () => {
  const { calls, log, outcomes } = setup();
  const error = outcomes.failure({ data, attemptsMade: 0, opts: { attempts: 3 } }, new FleetError('E_MODEL_LOAD', 'no such model'), log);
  assert.ok(error instanceof UnrecoverableError);
  assert.equal(error.message, '[E_MODEL_LOAD] no such model');
  assert.deepEqual(calls, [['count', 'flash', 'failed'], ['countModelFailure', data, 'E_MODEL_LOAD']]);
});
