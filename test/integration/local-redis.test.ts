import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort, startRedisServer } from '../../cli/local-redis.js';

describe('private redis-servers (local fleet, tests that stop Redis)', () => {
  test('ports are chosen outside the ephemeral range, where no listen(0) or outgoing connection takes them while a server is down', async (t) => {
    let low: number, high: number;
    try {
      [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number, number];
    } catch {
      t.skip('no /proc/sys/net/ipv4/ip_local_port_range here');
      return;
    }
    if (low - 20_000 < 1_000 && 65_535 - high < 1_000) {
      t.skip(`ephemeral range ${low}-${high} leaves no room either side`);
      return;
    }
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) assert.ok(port < low ? port >= 20_000 : port > high, `port ${port} inside the ephemeral range ${low}-${high}`);
  });

  test('a restart on a port another Redis took fails saying so, instead of passing that Redis off as its own', async () => {
    const first = await startRedisServer();
    try {
      await assert.rejects(startRedisServer({ port: first.port }), /another Redis's/);
    } finally {
      await first.stop();
    }
  });

  test('a chosen port taken before redis-server binds it is given up for another; any other failed start is not retried', async () => {
    const first = await startRedisServer();
    try {
      const picked: number[] = [];
      const pickTakenFirst = async () => {
        const port = picked.length === 0 ? first.port : await freePort();
        picked.push(port);
        return port;
      };
      const second = await startRedisServer({}, pickTakenFirst);
      try {
        assert.deepEqual(picked, [first.port, second.port]);
        assert.notEqual(second.port, first.port);
        assert.equal(second.process.pid, Number(/process_id:(\d+)/.exec(await info(second.url))?.[1]));
      } finally {
        await second.stop();
      }

      let picks = 0;
      await assert.rejects(
        startRedisServer({ args: ['--no-such-directive', 'yes'] }, async () => (picks++, freePort())),
        /exited at start on port \d+ \(exit 1\): .*Bad directive/,
      );
      assert.equal(picks, 1, 'a bad argument fails the same on every port');
    } finally {
      await first.stop();
    }
  });
});

async function info(url: string): Promise<string> {
  const redis = new Redis(url);
  try {
    return await redis.info('server');
  } finally {
    redis.disconnect();
  }
}
