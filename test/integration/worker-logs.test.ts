import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FLEET_BIN, waitUntil } from '../helpers/fleet-cli.js';
import { cleanupPrefix, REDIS_URL, testPrefix } from '../helpers/redis.js';
import { S3_TEST_CREDENTIALS, startS3rver } from '../helpers/s3.js';
import { parseStrictJsonLine } from '../helpers/strict-json-line.js';
import { MODELS_DIR } from '../helpers/worker.js';

interface Service {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function startFleet(args: string[], env: NodeJS.ProcessEnv): Service {
  const child = spawn(process.execPath, [FLEET_BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d));
  child.stderr!.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function lines(output: string): string[] {
  return output.split('\n').filter((line) => line !== '');
}

describe('worker and ingress logs', () => {
  const prefix = testPrefix();
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  const services: Service[] = [];

  before(async () => {
    s3 = await startS3rver('fleet-logs');
  });
  after(async () => {
    for (const service of services) if (service.child.exitCode === null) service.child.kill('SIGKILL');
    await cleanupPrefix(prefix);
    await s3.stop();
  });

  test('a worker on an S3 store running a typography job, and its ingress, write only JSON lines with unique keys; every worker line names the worker', async () => {
    const env = {
      REDIS_URL,
      FLEET_PREFIX: prefix,
      FLEET_S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey,
      AWS_REGION: 'us-east-1',
      FLEET_STORE: 's3://fleet-logs/renders',
      LOG_LEVEL: 'debug',
    };
    const worker = startFleet(['worker', '--lanes', 'typography', '--models', MODELS_DIR, '--metrics-port', '0'], env);
    services.push(worker);
    await waitUntil('the worker to run', () => worker.stdout().includes('worker running') || worker.child.exitCode !== null, 120_000, 50);
    assert.equal(worker.child.exitCode, null, `the worker exited: ${worker.stderr()}`);
    const port = await freePort();
    const ingress = startFleet(['ingress'], { ...env, FLEET_PORT: String(port) });
    services.push(ingress);
    await waitUntil('the ingress to listen', () => ingress.stdout().includes('ingress listening') || ingress.child.exitCode !== null, 60_000, 50);
    assert.equal(ingress.child.exitCode, null, `the ingress exited: ${ingress.stderr()}`);

    const base = `http://127.0.0.1:${port}`;
    const accepted = await fetch(`${base}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'poster for a summer festival', text: { content: 'SUNSET BEATS' }, width: 512, height: 512, account: { id: 'acct-logs', tier: 'pro' } }),
    });
    assert.equal(accepted.status, 202, await accepted.clone().text());
    const { id } = (await accepted.json()) as { id: string };
    let view: { state: string; result?: { image: { url: string }; text?: { passed: boolean } }; error?: unknown } | undefined;
    await waitUntil('the typography job to end', async () => {
      view = (await (await fetch(`${base}/jobs/${encodeURIComponent(id)}`)).json()) as typeof view;
      return view!.state === 'completed' || view!.state === 'failed';
    }, 120_000, 200);
    assert.equal(view!.state, 'completed', JSON.stringify(view!.error));
    assert.match(view!.result!.image.url, /^s3:\/\/fleet-logs\/renders\//);
    assert.equal(view!.result!.text!.passed, true);
    // A process warning is a JSON line too, not Node's text on stderr.
    ingress.child.kill('SIGTERM');
    worker.child.kill('SIGTERM');
    assert.equal(await worker.exited, 0, worker.stderr());
    assert.equal(await ingress.exited, 0, ingress.stderr());

    const workerLines = lines(worker.stdout()).map(parseStrictJsonLine);
    const ingressLines = lines(ingress.stdout()).map(parseStrictJsonLine);
    assert.ok(workerLines.length >= 5, `worker lines: ${workerLines.length}`);
    assert.ok(ingressLines.some((line) => line.msg === 'job accepted'));
    for (const line of workerLines) assert.equal(typeof line.workerId, 'string', `no workerId: ${JSON.stringify(line)}`);
    assert.ok(workerLines.some((line) => line.msg === 'batch ran' && (line.jobIds as string[]).includes(id)), 'the batch line names the job');
    assert.equal(worker.stderr(), '', 'nothing but JSON lines: the worker wrote to stderr');
    assert.equal(ingress.stderr(), '', 'nothing but JSON lines: the ingress wrote to stderr');
  });
});
