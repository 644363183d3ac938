// The chaos suite's Redis-freeze scenario (issue 18, defect 1): an ingress process on a private Redis takes
// requests WITHOUT idempotency keys while the Redis is frozen (SIGSTOP) for a few seconds, then every answer is
// counted against what Redis holds afterwards. The promise checked: no job is in Redis behind an answer that said
// it was not enqueued (503 E_REDIS_UNAVAILABLE), every 202 is in Redis, and every answer has a catalogue code.
// Run alone: node --import tsx test/chaos/redis-freeze-scenario.ts [--requests 500 --rate 100 --freeze-at 2.5 --freeze-for 5]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { freePort, startRedisServer } from '../../cli/local-redis.js';
import { laneQueuePrefix, LANES } from '../../contract/index.js';

export interface FreezeScenarioOptions {
  requests: number;
  /** Requests per second. */
  rate: number;
  /** When the freeze starts, seconds into the load. */
  freezeAtSeconds: number;
  freezeForSeconds: number;
  /** The `fleet` binary to run the ingress with (another checkout's, to measure its behaviour). @default this one */
  fleetBin?: string;
  say?: (message: string) => void;
}

export interface FreezeScenarioCounts {
  requests: number;
  /** Answers by `<status> <code>` (202 for receipts). */
  answers: Record<string, number>;
  /** Jobs in Redis afterwards, over every lane. */
  jobsInRedis: number;
  /** 503 E_REDIS_UNAVAILABLE ("not enqueued") answers whose job is in Redis all the same: must be 0. */
  enqueuedBehindNotEnqueued: number;
  /** 202 answers whose job is not in Redis: must be 0. */
  acceptedMissing: number;
  /** E_OUTCOME_UNKNOWN answers (the id to poll) whose job turned out to be in Redis. */
  unknownThenFound: number;
  /** Answers without a catalogue code, and requests that got no answer at all. */
  uncoded: number;
  unanswered: number;
  ok: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runRedisFreezeScenario(options: FreezeScenarioOptions): Promise<FreezeScenarioCounts> {
  const say = options.say ?? (() => {});
  const redis = await startRedisServer();
  const port = await freePort();
  const fleetBin = options.fleetBin ?? fileURLToPath(new URL('../../bin/fleet.js', import.meta.url));
  const prefix = 'freeze';
  const ingress = spawn(process.execPath, [fleetBin, 'ingress', '--port', String(port), '--prefix', prefix], {
    env: { ...process.env, REDIS_URL: redis.url, LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const admin = new Redis(redis.url);
  try {
    for (const deadline = Date.now() + 30_000; ; ) {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false))) break;
      if (Date.now() > deadline) throw new Error('the ingress did not come up');
      await sleep(100);
    }
    // Prime the policy and the connection, as a running ingress would be.
    await fetch(`http://127.0.0.1:${port}/generate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prompt: 'warm-up', account: { id: 'w', tier: 'pro' } }) });

    type Answer = { marker: string; status: number; code?: string | undefined; id?: string | undefined; error?: string };
    const answers: Answer[] = [];
    const send = async (i: number) => {
      const marker = `freeze-marker-${i}`;
      try {
        const response = await fetch(`http://127.0.0.1:${port}/generate`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: `${marker}, a watercolor fox`, width: 256, height: 256, account: { id: `acct-${i % 20}`, tier: 'pro' } }),
          signal: AbortSignal.timeout(60_000),
        });
        const body = (await response.json()) as { id?: string; error?: { code?: string; id?: string } };
        answers.push({ marker, status: response.status, code: body.error?.code, id: body.id ?? body.error?.id });
      } catch (error) {
        answers.push({ marker, status: 0, error: String(error) });
      }
    };
    const pid = redis.process.pid!;
    const freezing = (async () => {
      await sleep(options.freezeAtSeconds * 1000);
      process.kill(pid, 'SIGSTOP');
      say(`Redis frozen (SIGSTOP) for ${options.freezeForSeconds} s at ${options.freezeAtSeconds} s`);
      await sleep(options.freezeForSeconds * 1000);
      process.kill(pid, 'SIGCONT');
    })();
    const inFlight: Array<Promise<void>> = [];
    const started = Date.now();
    for (let i = 0; i < options.requests; i++) {
      const due = started + (i * 1000) / options.rate;
      if (due > Date.now()) await sleep(due - Date.now());
      inFlight.push(send(i));
    }
    await Promise.all(inFlight);
    await freezing;

    // What Redis holds, by the marker each request carried in its prompt.
    const held = new Set<string>();
    const heldIds = new Set<string>();
    for (const lane of LANES) {
      const queue = new Queue(lane, { connection: admin, prefix: laneQueuePrefix(prefix, lane) });
      for (const job of await queue.getJobs(['waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'], 0, -1)) {
        const marker = /freeze-marker-\d+/.exec((job.data as { request: { prompt: string } }).request.prompt)?.[0];
        if (marker !== undefined) held.add(marker);
        heldIds.add(job.id!);
      }
      await queue.close();
    }
    const counts: FreezeScenarioCounts = {
      requests: options.requests,
      answers: {},
      jobsInRedis: held.size,
      enqueuedBehindNotEnqueued: 0,
      acceptedMissing: 0,
      unknownThenFound: 0,
      uncoded: 0,
      unanswered: 0,
      ok: false,
    };
    for (const answer of answers) {
      const key = answer.status === 0 ? 'no answer' : answer.status === 202 ? '202' : `${answer.status} ${answer.code ?? 'uncoded'}`;
      counts.answers[key] = (counts.answers[key] ?? 0) + 1;
      if (answer.status === 0) counts.unanswered++;
      else if (answer.status === 202) {
        if (!held.has(answer.marker)) counts.acceptedMissing++;
      } else if (answer.code === undefined) counts.uncoded++;
      else if (answer.code === 'E_REDIS_UNAVAILABLE' && held.has(answer.marker)) counts.enqueuedBehindNotEnqueued++;
      else if (answer.code === 'E_OUTCOME_UNKNOWN' && (held.has(answer.marker) || (answer.id !== undefined && heldIds.has(answer.id)))) counts.unknownThenFound++;
    }
    counts.ok = counts.enqueuedBehindNotEnqueued === 0 && counts.acceptedMissing === 0 && counts.uncoded === 0 && counts.unanswered === 0;
    return counts;
  } finally {
    ingress.kill('SIGKILL');
    admin.disconnect();
    await redis.stop().catch(() => {});
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '500' },
      rate: { type: 'string', default: '100' },
      'freeze-at': { type: 'string', default: '2.5' },
      'freeze-for': { type: 'string', default: '5' },
      'fleet-bin': { type: 'string' },
    },
  });
  const counts = await runRedisFreezeScenario({
    requests: Number(values.requests),
    rate: Number(values.rate),
    freezeAtSeconds: Number(values['freeze-at']),
    freezeForSeconds: Number(values['freeze-for']),
    ...(values['fleet-bin'] ? { fleetBin: values['fleet-bin'] } : {}),
    say: (m) => process.stderr.write(`freeze: ${m}\n`),
  });
  console.log(JSON.stringify(counts));
  process.exit(counts.ok ? 0 : 1);
}
