// The parts of cli-progress (which ships no types) the fleet CLI uses.
declare module 'cli-progress' {
  import type { Writable } from 'node:stream';

  export interface BarOptions {
    format?: string;
    stream?: Writable;
    hideCursor?: boolean;
    clearOnComplete?: boolean;
    stopOnComplete?: boolean;
    barsize?: number;
    noTTYOutput?: boolean;
    etaBuffer?: number;
  }

  export class SingleBar {
    constructor(options: BarOptions, preset?: object);
    start(total: number, startValue: number, payload?: Record<string, unknown>): void;
    update(value: number, payload?: Record<string, unknown>): void;
    setTotal(total: number): void;
    stop(): void;
  }

  export const Presets: { shades_classic: object; shades_grey: object; legacy: object; rect: object };

  const cliProgress: { SingleBar: typeof SingleBar; Presets: typeof Presets };
  export default cliProgress;
}
