import { describeError, type Logger } from '../../contract/index.js';
import type { WorkerMetrics } from '../metrics/worker-metrics.js';
import { DeviceMemoryMonitor } from './device-memory-monitor.js';
import { deviceBudgetBytes, planDevice, type DevicePlan } from './device-plan.js';
import { EngineSessionFactory } from './engine-session-factory.js';
import { InferenceEngine } from './inference-engine.js';
import { nvidiaSmiReader, type DeviceMemoryReader, type DeviceMemoryReading } from './nvidia-smi.js';
import { isCudaAvailable, type SessionFactory } from './onnx-session-factory.js';

export interface WorkerDeviceOptions {
  gpu: number | undefined;
  allowCpu: boolean;
  /** In-process sessions instead of the engine's (`FleetWorkerOptions.sessionFactory`): trusted to be on `gpu`. */
  sessionFactory: SessionFactory | undefined;
  readDeviceMemory: DeviceMemoryReader | undefined;
  deviceMemoryPollMs: number;
  logger: Logger;
  metrics: WorkerMetrics;
}

/** The device memory a CUDA worker last measured, for `fleet status`. */
export interface DeviceMemoryStatus {
  usedBytes: number;
  totalBytes: number;
  peakUsedBytes: number;
}

/**
 * A worker's device: its inference engine and session factory, the plan of where sessions run, and on CUDA the
 * device's memory, read on an interval into gauges and handed to `onMeasuredUse` (for the batcher's estimates).
 */
export class WorkerDevice {
  /** Called with each reading's memory in use less what was in use at start (what this worker's sessions hold). */
  onMeasuredUse: (bytes: number) => void = () => {};

  private monitor: DeviceMemoryMonitor | undefined;

  private constructor(
    readonly plan: DevicePlan,
    readonly sessionFactory: SessionFactory,
    readonly engine: InferenceEngine | undefined,
  ) {}

  /**
   * Plans the device (the engine thread starts on the first model load) and, on CUDA, takes the first reading of
   * the device's memory.
   * @throws FleetError E_DEVICE_UNAVAILABLE (see `planDevice`), or when a CUDA device's memory cannot be read and
   *   `requireMemoryReading` (the budget depends on it).
   */
  static async open(options: WorkerDeviceOptions, requireMemoryReading: boolean): Promise<WorkerDevice> {
    const { gpu, logger, metrics } = options;
    let engine: InferenceEngine | undefined;
    let plan: DevicePlan;
    let sessionFactory = options.sessionFactory;
    if (sessionFactory !== undefined) {
      plan = planDevice({ gpu, allowCpu: options.allowCpu, cudaAvailable: true });
    } else {
      // The engine thread loads the same onnxruntime-node binary, so what is installed here is what it finds.
      plan = planDevice({ gpu, allowCpu: options.allowCpu, cudaAvailable: gpu !== undefined && isCudaAvailable() });
      engine = new InferenceEngine({
        executionProvider: plan.mode,
        ...(gpu === undefined ? {} : { cudaDeviceId: gpu }),
        onLost: (error) => {
          metrics.engineRestarts.inc();
          logger.error({ err: error }, 'inference engine lost: its runs failed and are retried; a new engine starts on the next run');
        },
      });
      sessionFactory = new EngineSessionFactory(engine, {
        onProvider: (provider, modelPath, fallbackReason) => {
          if (fallbackReason !== undefined) logger.warn({ modelPath, provider, err: fallbackReason }, `session not created on CUDA: ${modelPath} runs on the CPU; its next load tries CUDA again`);
        },
      });
    }
    if (plan.warning !== undefined) logger.warn(plan.warning);
    const device = new WorkerDevice(plan, sessionFactory, engine);
    if (plan.device !== 'cuda') return device;

    const read = options.readDeviceMemory ?? nvidiaSmiReader(gpu!);
    const monitor = new DeviceMemoryMonitor({
      read,
      intervalMs: options.deviceMemoryPollMs,
      onReading: (reading) => {
        metrics.vramDeviceUsed.set(reading.usedBytes);
        metrics.vramDeviceTotal.set(reading.totalBytes);
        device.onMeasuredUse(Math.max(0, reading.usedBytes - monitor.first!.usedBytes));
      },
      onError: (error) => logger.warn({ err: error }, 'device memory not read; trying again at the next interval'),
    });
    try {
      await monitor.start();
      device.monitor = monitor;
    } catch (error) {
      if (requireMemoryReading) {
        await device.close();
        throw error;
      }
      logger.warn({ err: error }, `device memory cannot be read (${describeError(error)}): the budget is the one given, estimates are not checked against the device`);
    }
    return device;
  }

  /** The budget: the one given, else on CUDA the device's (see `deviceBudgetBytes`). */
  budgetBytes(given: number | undefined, marginBytes: number, nominalBytes: number): number {
    if (given !== undefined) return given;
    const first = this.monitor?.first;
    return first === undefined ? nominalBytes : deviceBudgetBytes(first, marginBytes);
  }

  /** The latest reading and the peak since start (CUDA workers that can read their device). */
  memory(): DeviceMemoryStatus | undefined {
    const latest: DeviceMemoryReading | undefined = this.monitor?.latest;
    return latest === undefined ? undefined : { ...latest, peakUsedBytes: this.monitor!.peakUsedBytes };
  }

  /** See `InferenceEngine.kill`. */
  async kill(reason: 'lost' | 'shutdown'): Promise<void> {
    await this.engine?.kill(reason);
  }

  /** Stops reading the device and ends the engine (once it is out of onnxruntime's calls: see `NativeCallGuard`). */
  async close(): Promise<void> {
    await this.monitor?.stop();
    await this.engine?.close();
  }
}
