import type { DeviceMemoryReader, DeviceMemoryReading } from './nvidia-smi.js';

export interface DeviceMemoryMonitorOptions {
  read: DeviceMemoryReader;
  /** How often the device is read, ms. */
  intervalMs: number;
  /** Every reading, in order. */
  onReading: (reading: DeviceMemoryReading) => void;
  /** A failed reading (the next one is tried at the next interval). */
  onError: (error: unknown) => void;
}

/**
 * Reads a device's memory every `intervalMs` (one reading at a time: a slow query delays the next instead of
 * piling up), and keeps the first reading, the latest and the peak of `usedBytes`.
 */
export class DeviceMemoryMonitor {
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  first: DeviceMemoryReading | undefined;
  latest: DeviceMemoryReading | undefined;
  peakUsedBytes = 0;

  constructor(private readonly options: DeviceMemoryMonitorOptions) {
    if (!(options.intervalMs > 0) || !Number.isFinite(options.intervalMs)) throw new RangeError(`intervalMs must be a finite number > 0, got ${options.intervalMs}`);
  }

  /** Takes one reading now (the worker's budget comes from it), then keeps reading. */
  async start(): Promise<DeviceMemoryReading> {
    const first = await this.options.read();
    this.record(first);
    this.timer = setInterval(() => void this.readOnce(), this.options.intervalMs);
    this.timer.unref();
    return first;
  }

  /** Stops reading; resolves once a reading in progress has ended. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
  }

  private readOnce(): Promise<void> {
    this.reading ??= this.options
      .read()
      .then((reading) => this.record(reading), this.options.onError)
      .finally(() => (this.reading = undefined));
    return this.reading;
  }

  private record(reading: DeviceMemoryReading): void {
    this.first ??= reading;
    this.latest = reading;
    this.peakUsedBytes = Math.max(this.peakUsedBytes, reading.usedBytes);
    this.options.onReading(reading);
  }
}
