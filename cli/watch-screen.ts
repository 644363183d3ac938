import type { Lane } from '../contract/index.js';
import { formatDuration, formatLatency } from './duration.js';
import { backlogOf, type FleetStatus } from './fleet-status.js';
import { fitToWidth, sparkline } from './sparkline.js';
import { laneState, workersPerLane } from './status-report.js';

export interface WatchScreenOptions {
  /** Terminal columns; every line is cut to it. @default 80 */
  width?: number;
  /** Terminal rows; worker lines beyond it are summarised. @default 24 */
  height?: number;
  /** ASCII charts (terminals without UTF-8). @default false */
  ascii?: boolean;
  /** ANSI colours. @default false */
  colour?: boolean;
  /** Seconds of depth history the depth chart spans. @default 180 */
  depthSpanSeconds?: number;
  /** A line shown under the title (e.g. a Redis error while retrying). */
  notice?: string;
}

/** Depth samples (waiting + prioritized + active + delayed) per lane, one per refresh, oldest first. */
export type DepthHistory = Map<Lane, number[]>;

const ESCAPE = /\u001b\[[0-9;?]*[A-Za-z]/y;

/** Cuts a line to `width` visible columns, keeping (and closing) ANSI colour sequences. */
export function cutToWidth(line: string, width: number): string {
  let out = '';
  let visible = 0;
  let hasEscapes = false;
  for (let i = 0; i < line.length; ) {
    ESCAPE.lastIndex = i;
    const match = ESCAPE.exec(line);
    if (match) {
      out += match[0];
      hasEscapes = true;
      i += match[0].length;
      continue;
    }
    const char = String.fromCodePoint(line.codePointAt(i)!);
    if (visible >= width) break;
    out += char;
    visible += 1;
    i += char.length;
  }
  return hasEscapes ? `${out}\u001b[0m` : out;
}

/** Visible length of a line (ANSI sequences excluded). */
export function visibleLength(line: string): number {
  return [...line.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '')].length;
}

const pad = (text: string | number, n: number) => String(text).padStart(n);
const padEnd = (text: string, n: number) => text.padEnd(n);

/**
 * One `fleet watch` frame as lines: a compact lane table, depth over the last minutes and end-to-end p95 per
 * minute as sparklines, and the workers. Laid out for 80×24; every line is cut to `width`.
 */
export function renderWatchFrame(status: FleetStatus, depth: DepthHistory, options: WatchScreenOptions = {}): string[] {
  const width = options.width ?? 80;
  const height = options.height ?? 24;
  const ascii = options.ascii ?? false;
  const paint = (code: number, text: string) => (options.colour ? `\u001b[${code}m${text}\u001b[39m` : text);
  const perLane = workersPerLane(status);
  const time = new Date(status.at).toISOString().slice(11, 19);
  const lines: string[] = [];

  const title = `fleet watch · ${status.prefix} · policy ${status.policyVersion === null ? '—' : `v${status.policyVersion}`} · ${time}`;
  const quit = 'q: quit';
  lines.push(`${title}${' '.repeat(Math.max(1, Math.min(width, 80) - title.length - quit.length))}${quit}`);
  if (options.notice) lines.push(paint(31, options.notice));
  lines.push(`lane       state      wait  act  dly  fail done/m   p50    p95    p99  batch`);
  for (const l of status.lanes) {
    const state = laneState(l, perLane.get(l.lane) ?? 0);
    const stateText = padEnd(state, 9);
    const coloured = state === 'ok' ? paint(32, stateText) : state === 'paused' ? paint(33, stateText) : paint(31, stateText);
    const e = l.endToEndMs;
    lines.push(
      `${padEnd(l.lane, 10)} ${coloured}${pad(l.depth.waiting + l.depth.prioritized, 6)}${pad(l.depth.active, 5)}${pad(l.depth.delayed, 5)}${pad(l.depth.failed, 6)}` +
        `${pad(l.perMinute.completed.toFixed(1), 7)}${pad(formatLatency(e.p50), 7)}${pad(formatLatency(e.p95), 7)}${pad(formatLatency(e.p99), 7)}${pad(l.meanBatchSize === null ? '—' : l.meanBatchSize.toFixed(1), 7)}`,
    );
  }

  const chartWidth = Math.max(10, Math.min(60, width - 30));
  const span = options.depthSpanSeconds ?? 180;
  lines.push('');
  lines.push(`depth (wait+active+delayed), last ${formatDuration(span * 1000)}`);
  for (const l of status.lanes) {
    const samples = depth.get(l.lane) ?? [];
    const max = Math.max(0, ...samples);
    const chart = sparkline(fitToWidth(samples, chartWidth), { ascii });
    lines.push(`${padEnd(l.lane, 10)} ${chart} ${pad(backlogOf(l), 5)} max ${max}`);
  }

  lines.push('');
  const minutes = status.lanes[0]?.p95History?.length ?? 0;
  lines.push(`p95 end-to-end per minute, last ${minutes} min (window ${formatDuration(status.windowMs)})`);
  for (const l of status.lanes) {
    const history = l.p95History ?? [];
    const peak = Math.max(0, ...history.filter((v): v is number => v !== null));
    const chart = sparkline(fitToWidth(history, Math.min(chartWidth, Math.max(1, history.length))), { ascii });
    lines.push(`${padEnd(l.lane, 10)} ${padEnd(chart, chartWidth)} ${pad(formatLatency(l.endToEndMs.p95), 6)} max ${formatLatency(peak || null)}`);
  }

  lines.push('');
  const room = Math.max(1, height - lines.length - 1);
  if (status.workers.length === 0) {
    lines.push(paint(31, 'workers: none online'));
  } else {
    lines.push(`workers: ${status.workers.length} online`);
    const shown = status.workers.length > room ? status.workers.slice(0, room - 1) : status.workers;
    for (const w of shown) {
      const vram = `${(w.vramInUseBytes / 2 ** 30).toFixed(1)}/${(w.vramBudgetBytes / 2 ** 30).toFixed(0)}GiB`;
      lines.push(`  ${padEnd(w.id.slice(0, 24), 24)} ${padEnd(w.gpu === null ? 'cpu' : `gpu${w.gpu}`, 5)} ${padEnd(w.lanes.join(','), 26)} ${padEnd(vram, 11)} ${w.state}`);
    }
    if (shown.length < status.workers.length) lines.push(`  … ${status.workers.length - shown.length} more (fleet status lists all)`);
  }
  return lines.slice(0, height).map((line) => cutToWidth(line, width));
}
