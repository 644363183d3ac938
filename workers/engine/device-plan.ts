import { FleetError } from '../../contract/errors.js';
import type { DeviceMemoryReading } from './nvidia-smi.js';
import type { ProviderMode } from './onnx-session-factory.js';

/** Where a worker's sessions run, decided once at start. */
export interface DevicePlan {
  /** `cuda`: a GPU worker on CUDA; `cpu`: a CPU worker, or a GPU worker allowed onto the CPU. */
  device: 'cuda' | 'cpu';
  /** The sessions' provider mode (see `ProviderMode`). */
  mode: ProviderMode;
  /** For the startup log: what was asked and what runs. */
  description: string;
  /** Set when a GPU worker runs on the CPU (`allowCpu`): said at start, at warn. */
  warning?: string;
}

export interface DevicePlanInput {
  /** `FleetWorkerOptions.gpu`. */
  gpu: number | undefined;
  allowCpu: boolean;
  /** Whether the engine found a usable CUDA provider (see `isCudaAvailable`). */
  cudaAvailable: boolean;
}

/**
 * A CPU worker runs on the CPU. A GPU worker runs on CUDA, strictly (a session that cannot be created there fails
 * its model's load), or with `allowCpu` lets such a session fall back to the CPU; without a usable CUDA provider
 * it refuses to start unless `allowCpu`, and then runs on the CPU and says so.
 * @throws FleetError E_DEVICE_UNAVAILABLE for a GPU worker without a CUDA provider and without `allowCpu`.
 */
export function planDevice({ gpu, allowCpu, cudaAvailable }: DevicePlanInput): DevicePlan {
  if (gpu === undefined) return { device: 'cpu', mode: 'cpu', description: 'cpu' };
  if (cudaAvailable) return { device: 'cuda', mode: allowCpu ? 'auto' : 'cuda', description: allowCpu ? `cuda:${gpu} (cpu allowed)` : `cuda:${gpu}` };
  if (!allowCpu) {
    throw new FleetError(
      'E_DEVICE_UNAVAILABLE',
      `--gpu ${gpu} asked for CUDA, but this onnxruntime-node has no usable CUDA provider (install it with ONNXRUNTIME_NODE_INSTALL=cuda12 npm install --allow-scripts=onnxruntime-node on a CUDA 12 host); ` +
        'pass --allow-cpu to run this worker on the CPU instead',
    );
  }
  return {
    device: 'cpu',
    mode: 'cpu',
    description: `cpu (gpu ${gpu} asked, no CUDA provider)`,
    warning: `--gpu ${gpu} asked for CUDA, but this onnxruntime-node has no usable CUDA provider: running on the CPU (--allow-cpu)`,
  };
}

/**
 * A CUDA worker's budget when none is given: the device's total less what was in use before the worker's
 * sessions (other processes), less `marginBytes`.
 * @throws FleetError E_DEVICE_UNAVAILABLE when nothing would be left.
 */
export function deviceBudgetBytes(reading: DeviceMemoryReading, marginBytes: number): number {
  const budget = reading.totalBytes - reading.usedBytes - marginBytes;
  if (budget <= 0) {
    throw new FleetError(
      'E_DEVICE_UNAVAILABLE',
      `the GPU has ${reading.totalBytes} bytes, ${reading.usedBytes} in use already; less the margin of ${marginBytes} nothing is left to budget. Free the device or pass --vram`,
    );
  }
  return budget;
}
