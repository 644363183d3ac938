/**
 * Whether `work` settles (resolves or rejects) within `timeoutMs`. The wait is an `AbortSignal.timeout`, whose
 * timer does not keep the process alive on its own; `work` goes on either way.
 */
export function settlesWithin(work: Promise<unknown>, timeoutMs: number): Promise<boolean> {
  const signal = AbortSignal.timeout(timeoutMs);
  return new Promise((resolve) => {
    const onTimeout = () => resolve(false);
    signal.addEventListener('abort', onTimeout, { once: true });
    const settled = () => {
      signal.removeEventListener('abort', onTimeout);
      resolve(true);
    };
    work.then(settled, settled);
  });
}
