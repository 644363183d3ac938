import type { FleetStatus, LaneStatus } from './fleet-status.js';
import { formatBytes, formatDuration, formatLatency } from './duration.js';
import Table from 'cli-table3';
import type { WorkerInfo } from '../workers/index.js';
import { colour, createTable, tableStyle } from './table.js';

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

  // Short heads keep the tables within STATUS_COLUMNS: `prio` are jobs waiting with a tier priority (BullMQ's
  // `prioritized`), `done · failed /min` the rates; the mean batch size sits with the latencies.
  const lanes = createTable(['lane', 'state', 'wkrs', 'waiting', 'prio', 'active', 'delayed', 'failed', 'done · failed /min'], { compact: true });
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
      `${l.perMinute.completed} · ${l.perMinute.failed > 0 ? red(String(l.perMinute.failed)) : 0}`,
    ]);
  }
  out.push(lanes.toString());

  const latency = createTable(['lane', 'e2e p50', 'e2e p95', 'e2e p99', 'wait p50', 'wait p95', 'wait p99', 'jobs', 'batch'], { compact: true });
  for (const l of status.lanes) {
    const e = l.endToEndMs;
    const w = l.queueWaitMs;
    latency.push([l.lane, formatLatency(e.p50), formatLatency(e.p95), formatLatency(e.p99), formatLatency(w.p50), formatLatency(w.p95), formatLatency(w.p99), e.count, l.meanBatchSize ?? '—']);
  }
  out.push(latency.toString());

  if (status.workers.length === 0) {
    out.push(red('no worker online'));
  } else {
    out.push(renderWorkers(status.workers));
    const models = renderModels(status.workers);
    if (models !== undefined) out.push(models);
  }
  return out.join('\n');
}

/** `fleet status` fits this many columns, whatever the ids, lanes and errors it shows. */
export const STATUS_COLUMNS = 100;

/** Text cut to `width` characters, the cut marked. */
function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** A worker id cut to `width` from the front: its end (pid, GPU) is what tells workers of one host apart. */
function clipId(id: string, width: number): string {
  return id.length <= width ? id : `…${id.slice(id.length - width + 1)}`;
}

const WORKER_ID_WIDTH = 20;
/** Lines a failed load's error may take in the models table. */
const NOTE_LINES = 4;

/**
 * Workers: where they run (`cuda:0`, `cpu`), lanes (wrapped), what admission has planned / the budget and, on
 * CUDA, what the device holds / its total, inference engine restarts, state.
 */
function renderWorkers(workers: readonly WorkerInfo[]): string {
  // Columns sized so the widest rows stay within STATUS_COLUMNS (borders and padding included).
  const table = new Table({
    head: ['worker', 'runs on', 'lanes', 'vram plan', 'device', 'restarts', 'state'],
    colWidths: [WORKER_ID_WIDTH, 10, 14, 12, 12, 10, 10],
    wordWrap: true,
    style: tableStyle(),
  });
  for (const w of workers) {
    const lanes = [...w.lanes, ...(w.overflowLanes ?? []).map((lane) => `~${lane}`)].join(', ');
    const device = w.deviceMemory === undefined ? '—' : `${formatBytes(w.deviceMemory.usedBytes)} / ${formatBytes(w.deviceMemory.totalBytes)}`;
    table.push([clipId(w.id, WORKER_ID_WIDTH - 2), w.executionProvider, lanes, `${formatBytes(w.vramInUseBytes)} / ${formatBytes(w.vramBudgetBytes)}`, device, w.engineRestarts ?? 0, w.state]);
  }
  return table.toString();
}

/** Models each worker loaded and where they run; a failed load with its error (cut to fit). */
function renderModels(workers: readonly WorkerInfo[]): string | undefined {
  const rows = workers.flatMap((w) => (w.models ?? []).map((m) => ({ worker: w.id, ...m })));
  if (rows.length === 0) return undefined;
  const widths = [WORKER_ID_WIDTH, 18, 10, 46];
  const table = new Table({ head: ['worker', 'model', 'provider', 'note'], colWidths: widths, wordWrap: true, style: tableStyle() });
  for (const row of rows) {
    const provider = row.provider === 'failed' ? red(row.provider) : row.provider;
    table.push([clipId(row.worker, widths[0]! - 2), clip(row.name, widths[1]! - 2), provider, clip(row.error ?? '', NOTE_LINES * (widths[3]! - 2))]);
  }
  return table.toString();
}
