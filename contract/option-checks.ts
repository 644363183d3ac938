/**
 * The checks every options resolver uses, so an option is refused the same way wherever it is given: a
 * `RangeError` naming the option, the rule and the value (`lockDurationMs must be an integer >= 1, got 0`).
 * `batching/` keeps its own (it imports nothing of ours).
 */

/** A finite number `>= min`. */
export function assertAtLeast(name: string, value: number, min: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) throw new RangeError(`${name} must be a finite number >= ${min}, got ${value}`);
}

/** A finite number `> min` (a period, a budget: 0 would mean never or nothing). */
export function assertAbove(name: string, value: number, min: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= min) throw new RangeError(`${name} must be a finite number > ${min}, got ${value}`);
}

/** An integer `>= min` (a count). */
export function assertIntegerAtLeast(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
}

/** One of `allowed`. */
export function assertOneOf<T>(name: string, value: T, allowed: readonly T[]): void {
  if (!allowed.includes(value)) throw new RangeError(`${name} must be one of ${allowed.join(', ')}, got ${String(value)}`);
}
