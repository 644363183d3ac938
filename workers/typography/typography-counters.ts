import { Counter, Histogram, type Registry } from 'prom-client';

/** Running totals of a renderer's OCR checks, since it was created. */
export interface TypographyCounters {
  /** Text layers rendered (one per `render` call that finished or failed its check). */
  renders: number;
  /** OCR checks run (one per attempt). */
  checks: number;
  /** Renders whose first attempt passed. */
  firstTryPasses: number;
  /** Renders that passed on some attempt. */
  finalPasses: number;
  /** Renders that failed every attempt (flagged or failed, as the request asked). */
  finalFailures: number;
}

/** Observes one OCR check as it happens. */
export interface TextCheckEvent {
  /** 1 for the first render, 2 for the first safer re-render… */
  attempt: number;
  cer: number;
  passed: boolean;
  durationMs: number;
}

/**
 * Keeps `TypographyCounters` and, when given a prom-client registry, mirrors them as
 * `typography_text_renders_total`, `typography_text_checks_total`, `typography_text_first_try_pass_total`,
 * `typography_text_final_pass_total`, `typography_text_final_fail_total` and the histogram
 * `typography_ocr_check_seconds`.
 */
export class TypographyCounterSet {
  readonly #values: TypographyCounters = { renders: 0, checks: 0, firstTryPasses: 0, finalPasses: 0, finalFailures: 0 };
  readonly #metrics: { counters: Record<keyof TypographyCounters, Counter>; checkSeconds: Histogram } | undefined;

  constructor(registry?: Registry) {
    if (registry === undefined) return;
    const counter = (name: string, help: string): Counter => new Counter({ name, help, registers: [registry] });
    this.#metrics = {
      counters: {
        renders: counter('typography_text_renders_total', 'Text layers rendered and checked by OCR'),
        checks: counter('typography_text_checks_total', 'OCR checks run, one per attempt'),
        firstTryPasses: counter('typography_text_first_try_pass_total', 'Renders whose first attempt passed the OCR check'),
        finalPasses: counter('typography_text_final_pass_total', 'Renders that passed the OCR check on some attempt'),
        finalFailures: counter('typography_text_final_fail_total', 'Renders that failed the OCR check on every attempt'),
      },
      checkSeconds: new Histogram({
        name: 'typography_ocr_check_seconds',
        help: 'Duration of one OCR check (detection and recognition)',
        buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 1, 2],
        registers: [registry],
      }),
    };
  }

  /** A copy of the current totals. */
  snapshot(): TypographyCounters {
    return { ...this.#values };
  }

  recordCheck(event: TextCheckEvent): void {
    this.#add('checks');
    this.#metrics?.checkSeconds.observe(event.durationMs / 1000);
  }

  recordRender(passed: boolean, attempts: number): void {
    this.#add('renders');
    if (passed && attempts === 1) this.#add('firstTryPasses');
    this.#add(passed ? 'finalPasses' : 'finalFailures');
  }

  #add(key: keyof TypographyCounters): void {
    this.#values[key]++;
    this.#metrics?.counters[key].inc();
  }
}
