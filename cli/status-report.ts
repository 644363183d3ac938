import type { FleetStatus, LaneStatus } from './fleet-status.js';
import { formatBytes, formatDuration, formatLatency } from './duration.js';
import { colour, createTable } from './table.js';

const paint = (code: number, text: string) => (colour ? `\u001b[${code}m${text}\u001b[39m` : text);
export const red = (text: string) => paint(31, text);
export const yellow = (text: string) => paint(33, text);
export const green = (text: string) => paint(32, text);

/** How many live workers drain each lane. */
export function workersPerLane(status: FleetStatus): Map<string, number> {
  const counts = new Map<string, number>();
  for (const worker of status.workers) for (const lane of worker.lanes) counts.set(lane, (counts.get(lane) ?? 0) + 1);
  return counts;
}

/** `paused`, `no worker` or `ok`: what an operator must look at first. */
export function laneState(lane: LaneStatus, workers: number): string {
  if (lane.paused) return 'paused';
  if (workers === 0) return 'no worker';
  return 'ok';
}

function stateCell(state: string): string {
  if (state === 'paused') return yellow(state);
  if (state === 'no worker') return red(state);
  return green(state);
}

/** `fleet status` as text: lanes (depth, throughput, batch size), latency, workers. */
export function renderStatus(status: FleetStatus): string {
  const perLane = workersPerLane(status);
  const out: string[] = [];
  out.push(
    `fleet ${status.prefix} · policy ${status.policyVersion === null ? 'none yet' : `v${status.policyVersion}`} · window ${formatDuration(status.windowMs)} · ${new Date(status.at).toISOString()}`,
  );

  const lanes = createTable(['lane', 'state', 'workers', 'waiting', 'prioritized', 'active', 'delayed', 'failed', 'done/min', 'failed/min', 'batch'], { compact: true });
  for (const l of status.lanes) {
    const workers = perLane.get(l.lane) ?? 0;
    lanes.push([
      l.lane,
      stateCell(laneState(l, workers)),
      workers,
      l.depth.waiting,
      l.depth.prioritized,
      l.depth.active,
      l.depth.delayed,
      l.depth.failed > 0 ? red(String(l.depth.failed)) : 0,
      l.perMinute.completed,
      l.perMinute.failed > 0 ? red(String(l.perMinute.failed)) : 0,
      l.meanBatchSize ?? '—',
    ]);
  }
  out.push(lanes.toString());

  const latency = createTable(['lane', 'e2e p50', 'e2e p95', 'e2e p99', 'wait p50', 'wait p95', 'wait p99', 'jobs'], { compact: true });
  for (const l of status.lanes) {
    const e = l.endToEndMs;
    const w = l.queueWaitMs;
    latency.push([l.lane, formatLatency(e.p50), formatLatency(e.p95), formatLatency(e.p99), formatLatency(w.p50), formatLatency(w.p95), formatLatency(w.p99), e.count]);
  }
  out.push(latency.toString());

  if (status.workers.length === 0) {
    out.push(red('no worker online'));
  } else {
    const workers = createTable(['worker', 'gpu', 'provider', 'lanes', 'vram in use', 'vram budget', 'state'], { compact: true });
    for (const w of status.workers) {
      const lanes = [...w.lanes, ...(w.overflowLanes ?? []).map((lane) => `~${lane}`)].join(',');
      workers.push([w.id, w.gpu ?? 'cpu', w.executionProvider, lanes, formatBytes(w.vramInUseBytes), formatBytes(w.vramBudgetBytes), w.state]);
    }
    out.push(workers.toString());
  }
  return out.join('\n');
}
