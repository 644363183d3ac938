import { execFile } from 'node:child_process';
import { FleetError } from '../../contract/errors.js';

/** One device's memory as the driver reports it, bytes. */
export interface DeviceMemoryReading {
  usedBytes: number;
  totalBytes: number;
}

/** Reads one device's memory. */
export type DeviceMemoryReader = () => Promise<DeviceMemoryReading>;

/** Runs a program and resolves with its standard output (`child_process.execFile`, injected in tests). */
export type ExecFile = (file: string, args: readonly string[], options: { timeoutMs: number }) => Promise<string>;

/** The query: one line per device, `index, memory.used, memory.total`, in MiB. */
export const NVIDIA_SMI_ARGS = ['--query-gpu=index,memory.used,memory.total', '--format=csv,noheader,nounits'] as const;

const MIB = 1024 * 1024;

export const execFileText: ExecFile = (file, args, { timeoutMs }) =>
  new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout) => (error ? reject(error) : resolve(stdout)));
  });

/**
 * Device `deviceIndex`'s line of `nvidia-smi --query-gpu=index,memory.used,memory.total --format=csv,noheader,nounits`.
 * @throws FleetError E_DEVICE_UNAVAILABLE when the device is not listed or its figures are not numbers (`[N/A]`, as
 *   MIG slices report).
 */
export function parseNvidiaSmiMemory(stdout: string, deviceIndex: number): DeviceMemoryReading {
  for (const line of stdout.split(/\r?\n/)) {
    const fields = line.split(',').map((field) => field.trim());
    if (fields.length < 3 || fields[0] !== String(deviceIndex)) continue;
    const [usedMiB, totalMiB] = [Number(fields[1]), Number(fields[2])];
    if (!Number.isFinite(usedMiB) || !Number.isFinite(totalMiB) || totalMiB <= 0 || usedMiB < 0) {
      throw new FleetError('E_DEVICE_UNAVAILABLE', `nvidia-smi gave no memory figures for GPU ${deviceIndex}: ${JSON.stringify(line)}`);
    }
    return { usedBytes: usedMiB * MIB, totalBytes: totalMiB * MIB };
  }
  throw new FleetError('E_DEVICE_UNAVAILABLE', `nvidia-smi lists no GPU ${deviceIndex}: ${JSON.stringify(stdout.trim())}`);
}

export interface NvidiaSmiReaderOptions {
  /** Runs nvidia-smi. @default child_process.execFile */
  exec?: ExecFile;
  /** The program. @default 'nvidia-smi' */
  command?: string;
  /** A query that takes longer fails. @default 5000 */
  timeoutMs?: number;
}

export const NVIDIA_SMI_READER_DEFAULTS = {
  exec: execFileText,
  command: 'nvidia-smi',
  timeoutMs: 5000,
} satisfies Required<NvidiaSmiReaderOptions>;

/** A reader of device `deviceIndex` through nvidia-smi. Its failures are coded `E_DEVICE_UNAVAILABLE`, the cause kept. */
export function nvidiaSmiReader(deviceIndex: number, options: NvidiaSmiReaderOptions = {}): DeviceMemoryReader {
  const { exec, command, timeoutMs } = { ...NVIDIA_SMI_READER_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  return async () => {
    let stdout: string;
    try {
      stdout = await exec(command, NVIDIA_SMI_ARGS, { timeoutMs });
    } catch (error) {
      throw new FleetError('E_DEVICE_UNAVAILABLE', `could not read GPU ${deviceIndex}'s memory with ${command}`, { cause: error });
    }
    return parseNvidiaSmiMemory(stdout, deviceIndex);
  };
}
