import { rmSync } from 'node:fs';
import { after, before } from 'node:test';
import { createProducer, type Producer, type ProducerOptions } from '../../producer/index.js';
import { cleanupPrefix, REDIS_URL } from './redis.js';

/**
 * A producer on real Redis for the current `describe`: made ready before its tests; closed after them, the
 * prefix's keys cleaned up and `removeAfter` folders removed. Read it through the returned function.
 */
export function suiteProducer(prefix: string, options: Partial<ProducerOptions> = {}, removeAfter: string[] = []): () => Producer {
  let producer: Producer | undefined;
  before(async () => {
    producer = createProducer({ redis: REDIS_URL, prefix, ...options });
    await producer.ready();
  });
  after(async () => {
    await producer?.close();
    await cleanupPrefix(prefix);
    for (const dir of removeAfter) rmSync(dir, { recursive: true, force: true });
  });
  return () => producer!;
}
