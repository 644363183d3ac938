// One ingress process for the scale bench: `node --import tsx scripts/bench/ingress-process.ts <redis-url> <prefix>`.
// Prints its port on a line once it listens; SIGTERM closes it. Lane limits are lifted so the measured seconds
// are spent accepting, not refusing with 429.
import { startFleetIngress } from './ingress-bench.js';

const [redisUrl, prefix] = process.argv.slice(2);
if (redisUrl === undefined || prefix === undefined) throw new Error('usage: ingress-process.ts <redis-url> <prefix>');
const server = await startFleetIngress(redisUrl, prefix);
process.stdout.write(`${new URL(server.url).port}\n`);
process.once('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
