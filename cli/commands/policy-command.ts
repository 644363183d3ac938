import { Command } from 'commander';
import { errorCodeOf, FleetError, parseGenerateRequest } from '../../contract/index.js';
import { staticPolicySource } from '../../router/index.js';
import { CommandFailure, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { readInput } from '../read-input.js';

interface ExplainOptions extends ConnectionOptions {
  jsonl?: boolean;
}

/** The `{ request }` wrapper of recorded lines (as in prompts.jsonl) or a bare request. */
function unwrap(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'request' in value && Object.keys(value).every((k) => ['request', 'lane', 'why'].includes(k))) {
    return (value as { request: unknown }).request;
  }
  return value;
}

export function policyCommand(): Command {
  const policy = new Command('policy').description('routing policy: explain decisions');
  policy.addCommand(
    withConnectionOptions(new Command('explain'))
      .description('print the routing decision { lane, model, rule, policyVersion, features } for a request')
      .argument('[file]', 'request JSON file, or - for standard input', '-')
      .option('--jsonl', 'one request per line in, one decision per line out')
      .action(async (file: string, options: ExplainOptions) => {
        const source = staticPolicySource();
        const explain = (value: unknown) => {
          try {
            const decision = source.current().evaluate(parseGenerateRequest(unwrap(value)));
            return { lane: decision.lane, model: decision.model, rule: decision.rule, policyVersion: decision.policyVersion, features: decision.features };
          } catch (error) {
            if (error instanceof FleetError) return error.toJSON();
            return { error: { code: errorCodeOf(error), message: String(error) } };
          }
        };
        const text = readInput(file);
        if (!options.jsonl) {
          const out = explain(JSON.parse(text));
          console.log(JSON.stringify(out, null, 2));
          if ('error' in out) throw new CommandFailure(out.error.message);
          return;
        }
        let failures = 0;
        for (const line of text.split('\n')) {
          if (line.trim() === '') continue;
          let out: ReturnType<typeof explain>;
          try {
            out = explain(JSON.parse(line));
          } catch (error) {
            out = { error: { code: 'E_VALIDATION', message: `line is not JSON: ${(error as Error).message}` } };
          }
          if ('error' in out) failures++;
          console.log(JSON.stringify(out));
        }
        if (failures > 0) throw new CommandFailure(`${failures} line(s) could not be routed`);
      }),
  );
  return policy;
}
