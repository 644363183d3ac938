import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runFleet } from '../helpers/fleet-cli.js';

describe('fleet --help', () => {
  test('a required option says so in its command\'s help, and only a required one', async () => {
    for (const [args, required, optional] of [
      [['replay', '--help'], ['--lane'], ['--dry-run', '--state']],
      [['canary', 'start', '--help'], ['--lane', '--model'], ['--from-model']],
    ] as const) {
      const run = await runFleet([...args]);
      assert.equal(run.code, 0, run.stderr);
      // Commander wraps descriptions: an option's entry runs until the next line that starts with an option.
      const entry = (name: string) => new RegExp(`^\\s+${name} [^]*?(?=^\\s+--|^\\s+-h)`, 'm').exec(run.stdout)?.[0] ?? '';
      for (const name of required) assert.match(entry(name), /\(required\)/, `${args.join(' ')}: ${name}\n${run.stdout}`);
      for (const name of optional) {
        assert.notEqual(entry(name), '', `${args.join(' ')}: no ${name} in\n${run.stdout}`);
        assert.doesNotMatch(entry(name), /\(required\)/, `${args.join(' ')}: ${name}`);
      }
    }
  });
});
