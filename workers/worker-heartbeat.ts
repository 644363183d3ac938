import { fleetKey, type Lane, type RedisClient } from '../contract/index.js';
import type { ModelReport } from './engine/inference-runner.js';
import type { DeviceMemoryStatus } from './engine/worker-device.js';
import type { WorkerState } from './worker-lifecycle.js';

/** What a worker tells `fleet status` about itself. */
export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  gpu: number | null;
  /** Where the worker's sessions run, as planned at start: `cpu`, `cuda:0`, `cuda:0 (cpu allowed)`, … */
  executionProvider: string;
  /** Each model loaded now, or whose last load failed, with its provider. Absent from older workers. */
  models?: ModelReport[];
  /** The device's memory as last read, and the peak of its use since start (CUDA workers). */
  deviceMemory?: DeviceMemoryStatus;
  /** Inference engine threads lost (and restarted) since start. Absent from older workers. */
  engineRestarts?: number;
  lanes: readonly Lane[];
  /** Lanes it drains only while they back up (`FleetWorkerOptions.overflowLanes`). Absent from older workers. */
  overflowLanes?: readonly Lane[];
  vramBudgetBytes: number;
  vramInUseBytes: number;
  startedAt: number;
  /** Epoch ms of this report. */
  seenAt: number;
  state: WorkerState;
}

/** Workers not seen for this long are offline. */
export const WORKER_TTL_SECONDS = 15;

export function workersKey(prefix: string): string {
  return fleetKey(prefix, 'workers');
}

/** Reports this worker every `intervalMs` into a hash of worker id → info (entries older than the TTL are stale). */
export class WorkerHeartbeat {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly prefix: string,
    private readonly info: () => WorkerInfo,
    private readonly intervalMs = 5000,
  ) {}

  start(): void {
    void this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.redis.hdel(workersKey(this.prefix), this.info().id).catch(() => {});
  }

  async beat(): Promise<void> {
    const info = this.info();
    await this.redis.hset(workersKey(this.prefix), info.id, JSON.stringify(info)).catch(() => {});
  }
}

/** Workers seen within the TTL. */
export async function readWorkers(redis: RedisClient, prefix: string, now = Date.now()): Promise<WorkerInfo[]> {
  const all = await redis.hgetall(workersKey(prefix));
  const workers: WorkerInfo[] = [];
  const stale: string[] = [];
  for (const [id, raw] of Object.entries(all)) {
    const info = JSON.parse(raw) as WorkerInfo;
    if (now - info.seenAt <= WORKER_TTL_SECONDS * 1000) workers.push(info);
    else if (now - info.seenAt > 3600_000) stale.push(id);
  }
  if (stale.length > 0) await redis.hdel(workersKey(prefix), ...stale);
  return workers.sort((a, b) => a.id.localeCompare(b.id));
}
