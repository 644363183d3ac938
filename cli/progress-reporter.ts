import cliProgress from 'cli-progress';

/** Progress of a long command: a bar on a terminal, plain lines elsewhere (both on stderr, so stdout stays data). */
export interface ProgressReporter {
  update(done: number, total: number, note?: string): void;
  stop(): void;
}

export interface ProgressOptions {
  /** What is counted, e.g. `active jobs finished`. */
  label: string;
  /** Fewest ms between plain lines (a line is always printed when done reaches total). @default 1000 */
  plainIntervalMs?: number;
  /** Print nothing (e.g. `--quiet`). @default false */
  silent?: boolean;
  stream?: NodeJS.WriteStream;
}

export function createProgress(options: ProgressOptions): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  if (options.silent) return { update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${options.label} [{bar}] {value}/{total} {note}`, stream, hideCursor: true, barsize: 30, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, note = '') {
        if (!started) {
          bar.start(total, done, { note });
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(done, { note });
        }
      },
      stop() {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  const interval = options.plainIntervalMs ?? 1000;
  let lastAt = 0;
  let lastLine = '';
  return {
    update(done, total, note = '') {
      const now = Date.now();
      const line = `${options.label}: ${done}/${total}${note ? ` ${note}` : ''}`;
      if (line === lastLine || (now - lastAt < interval && done < total)) return;
      stream.write(`${line}\n`);
      lastAt = now;
      lastLine = line;
    },
    stop() {},
  };
}
