import { MODEL_METRICS, minuteOf, modelHistogramKey, modelStatsKey, type RedisClient } from '../contract/index.js';
import { addHistogramHash, addStatsHash, emptyModelCounts, type ModelCounts } from './model-figures.js';

/**
 * Sums a model's per-minute series on a lane over the minutes from `fromMs` to `toMs` (both included), in one
 * pipeline (every series key shares the `{<prefix>:metrics}` hash tag, so this works on a cluster too).
 */
export async function readModelCounts(redis: RedisClient, prefix: string, lane: string, model: string, fromMs: number, toMs: number): Promise<ModelCounts> {
  const first = minuteOf(fromMs);
  const last = minuteOf(toMs);
  const pipeline = redis.pipeline();
  for (let minute = first; minute <= last; minute++) {
    pipeline.hgetall(modelStatsKey(prefix, lane, model, minute));
    for (const metric of MODEL_METRICS) pipeline.hgetall(modelHistogramKey(prefix, lane, model, metric, minute));
  }
  const replies = (await pipeline.exec()) ?? [];
  const counts = emptyModelCounts();
  const perMinute = 1 + MODEL_METRICS.length;
  replies.forEach(([error, value], i) => {
    if (error) throw error;
    const hash = (value ?? {}) as Record<string, string>;
    const slot = i % perMinute;
    if (slot === 0) addStatsHash(counts, hash);
    else addHistogramHash(counts, MODEL_METRICS[slot - 1]!, hash);
  });
  return counts;
}
