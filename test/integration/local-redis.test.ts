import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { freePort, startRedisServer } from '../../cli/local-redis.js';

describe('private redis-servers (local fleet, tests that stop Redis)', () => {
  test('ports are chosen below the ephemeral range, where no listen(0) or outgoing connection takes them while a server is down', async (t) => {
    let low: number;
    try {
      low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    } catch {
      t.skip('no /proc/sys/net/ipv4/ip_local_port_range here');
      return;
    }
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    for (const port of ports) assert.ok(port >= 20_000 && port < low, `port ${port} outside [20000, ${low})`);
  });

  test('a restart on a port another Redis took fails saying so, instead of passing that Redis off as its own', async () => {
    const first = await startRedisServer();
    try {
      await assert.rejects(startRedisServer({ port: first.port }), /another Redis's/);
      const second = await startRedisServer();
      try {
        assert.notEqual(second.port, first.port);
      } finally {
        await second.stop();
      }
    } finally {
      await first.stop();
    }
  });
});
