import type { Producer } from '../../producer/index.js';

/**
 * Sends `perProducer` enqueues of `request` through each producer at once and counts the outcomes by code
 * (`accepted` for receipts).
 */
export async function raceEnqueues(producers: Producer[], request: Record<string, unknown>, perProducer: number): Promise<Record<string, number>> {
  const outcomes = await Promise.all(
    producers.flatMap((producer) =>
      Array.from({ length: perProducer }, (_, i) =>
        producer.enqueue({ ...request, seed: i }).then(
          () => 'accepted',
          (error: { code?: string }) => error.code ?? 'uncoded',
        ),
      ),
    ),
  );
  const counts: Record<string, number> = {};
  for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
  return counts;
}
