// A child process for timing tests: it scrapes the given /metrics ports every POLL_MS (as Prometheus would, from
// another process) and measures its own event-loop delay, the control — what an almost idle process on this
// machine suffers meanwhile. It first asks each port once, unmeasured (its own HTTP client's start), then prints
// `ready`; it stops when its stdin closes and prints one JSON line: { metricsMs, askedAtMs, control }.
// Usage: node --import tsx test/helpers/loop-control.ts PORT [PORT…]
import { monitorEventLoopDelay } from 'node:perf_hooks';

const POLL_MS = 100;
/** monitorEventLoopDelay's sampling interval, ms: its figures include it. */
export const LOOP_RESOLUTION_MS = 10;

export interface LoopControlReport {
  /** Each /metrics answer's time, ms, in order. */
  metricsMs: number[];
  /** When each was asked, ms since the control started. */
  askedAtMs: number[];
  /** The control's own event-loop delay, ms. */
  control: { p50Ms: number; p99Ms: number; maxMs: number };
}

if (process.argv[1]?.endsWith('loop-control.ts')) {
  const ports = process.argv.slice(2).map(Number);
  for (const port of ports) await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  process.stdout.write('ready\n');
  const delay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  delay.enable();
  const metricsMs: number[] = [];
  const askedAtMs: number[] = [];
  const origin = performance.now();
  let running = true;
  process.stdin.on('end', () => (running = false));
  process.stdin.resume();
  while (running) {
    for (const port of ports) {
      const started = performance.now();
      const response = await fetch(`http://127.0.0.1:${port}/metrics`);
      await response.text();
      if (response.status !== 200) throw new Error(`/metrics on ${port} answered ${response.status}`);
      metricsMs.push(performance.now() - started);
      askedAtMs.push(started - origin);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  delay.disable();
  const ms = (ns: number) => ns / 1e6;
  const report: LoopControlReport = { metricsMs, askedAtMs, control: { p50Ms: ms(delay.percentile(50)), p99Ms: ms(delay.percentile(99)), maxMs: ms(delay.max) } };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
