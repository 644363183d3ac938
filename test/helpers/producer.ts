import { createProducer, type Producer, type ProducerOptions } from '../../producer/index.js';
import { REDIS_URL } from './redis.js';

/** A producer on the test Redis under the test's own `prefix`, connected; the caller closes it. */
export async function startTestProducer(prefix: string, options: Omit<ProducerOptions, 'redis' | 'prefix'> = {}): Promise<Producer> {
  const producer = createProducer({ redis: REDIS_URL, prefix, ...options });
  await producer.ready();
  return producer;
}
