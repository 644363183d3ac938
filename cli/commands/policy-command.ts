import { Command } from 'commander';
import { errorCodeOf, FleetError, parseGenerateRequest, readConfig, readModelCatalogue } from '../../contract/index.js';
import { comparePolicies, CompiledPolicy, diffPolicies, parsePolicy, PolicyStore } from '../../router/index.js';
import { CommandFailure, integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { withRedis } from '../open-redis.js';
import {
  checkTargets,
  costUnitsOf,
  documentOf,
  formatValue,
  pct,
  policyDocumentOf,
  printPolicyError,
  readJsonFile,
  readRequests,
  unwrap,
  withoutLegacyModels,
} from '../policy-input.js';
import { readInput } from '../read-input.js';
import { createTable } from '../table.js';

/**
 * `fleet policy <subcommand>`: one function per subcommand below, each with its options typed. A new subcommand
 * is a function returning its `Command`, appended to this list.
 */
const POLICY_SUBCOMMANDS: Array<() => Command> = [showCommand, applyCommand, rollbackCommand, diffCommand, historyCommand, explainCommand, testCommand];

export function policyCommand(): Command {
  const policy = new Command('policy').description('routing policy: versions in Redis, hot switched, reversible');
  for (const subcommand of POLICY_SUBCOMMANDS) policy.addCommand(subcommand());
  return policy;
}

interface ShowOptions extends ConnectionOptions {
  version?: number;
}

function showCommand(): Command {
  return withConnectionOptions(new Command('show'))
    .description('print the active policy (or --version N) with who/when/comment')
    .option('--version <n>', 'a version instead of the active one', integerOption('version', 1, Number.MAX_SAFE_INTEGER))
    .action((options: ShowOptions) =>
      withRedis(options.redis, async (redis) => {
        const store = new PolicyStore(redis, options.prefix);
        const version = options.version === undefined ? await store.active() : await store.get(options.version);
        const active = await store.activeVersion();
        console.log(JSON.stringify({ ...version, document: withoutLegacyModels(version.document), active: version.version === active }, null, 2));
      }),
    );
}

interface ApplyOptions extends ConnectionOptions {
  comment: string;
  author?: string;
  force?: boolean;
}

function applyCommand(): Command {
  return withConnectionOptions(new Command('apply'))
    .description('validate FILE, check its targets against the models workers serve, and make it the active policy (a refused policy leaves the active one)')
    .argument('<file>', 'policy JSON, or what `policy show --json` printed (or - for standard input)')
    .option('--comment <text>', 'why', '')
    .option('--author <name>', 'who (default user@host)')
    .option('--force', 'apply even when a rule routes to a model no worker serves on its lane (a warning instead)')
    .action(async (file: string, options: ApplyOptions) => {
      const input = policyDocumentOf(readJsonFile(file));
      await withRedis(options.redis, async (redis) => {
        const store = new PolicyStore(redis, options.prefix);
        const document = (() => {
          try {
            return parsePolicy(input);
          } catch (error) {
            return printPolicyError(error);
          }
        })();
        checkTargets(document, await readModelCatalogue(redis, options.prefix), options.force === true, 'policy');
        const version = await store.apply(document, { comment: options.comment, ...(options.author ? { author: options.author } : {}) }).catch(printPolicyError);
        console.log(options.json ? JSON.stringify(version) : `applied policy v${version.version} (${version.document.name}); it is active now`);
      });
    });
}

interface RollbackOptions extends ConnectionOptions {
  to?: number;
  comment: string;
}

function rollbackCommand(): Command {
  return withConnectionOptions(new Command('rollback'))
    .description('return to the version active before the current one, or to --to N')
    .option('--to <n>', 'the version to return to', integerOption('to', 1, Number.MAX_SAFE_INTEGER))
    .option('--comment <text>', 'why', '')
    .action((options: RollbackOptions) =>
      withRedis(options.redis, async (redis) => {
        const store = new PolicyStore(redis, options.prefix);
        const activation = await store.rollback({ comment: options.comment, ...(options.to === undefined ? {} : { to: options.to }) });
        console.log(options.json ? JSON.stringify(activation) : `rolled back from v${activation.previous} to v${activation.version}; it is active now`);
      }),
    );
}

function diffCommand(): Command {
  return withConnectionOptions(new Command('diff'))
    .description('what changes from A to B (version numbers or policy files)')
    .argument('<a>')
    .argument('<b>')
    .action((a: string, b: string, options: ConnectionOptions) =>
      withRedis(options.redis, async (redis) => {
        const store = new PolicyStore(redis, options.prefix);
        const [from, to] = [await documentOf(store, a), await documentOf(store, b)];
        const changes = diffPolicies(from.document, to.document);
        if (options.json) return console.log(JSON.stringify(changes));
        if (changes.length === 0) return console.log(`${from.label} and ${to.label} route identically`);
        console.log(`${from.label} → ${to.label}`);
        for (const c of changes) {
          const sign = c.kind.endsWith('added') ? '+' : c.kind.endsWith('removed') ? '-' : '~';
          const detail = [c.before === undefined ? '' : `was ${formatValue(c.before)}`, c.after === undefined ? '' : `now ${formatValue(c.after)}`].filter(Boolean).join('; ');
          console.log(`${sign} ${c.kind} ${c.subject}: ${detail}`);
        }
      }),
    );
}

function historyCommand(): Command {
  return withConnectionOptions(new Command('history'))
    .description('every version and activation, with who/when/comment')
    .action((options: ConnectionOptions) =>
      withRedis(options.redis, async (redis) => {
        const store = new PolicyStore(redis, options.prefix);
        await store.active();
        const [versions, history, active] = [await store.versions(), await store.history(), await store.activeVersion()];
        if (options.json) return console.log(JSON.stringify({ active, versions: versions.map(({ document, ...v }) => ({ ...v, name: document.name })), history }));
        const table = createTable(['', 'version', 'name', 'created', 'author', 'comment']);
        for (const v of versions) table.push([v.version === active ? '*' : '', v.version, v.document.name, new Date(v.createdAt).toISOString(), v.author, v.comment]);
        console.log(table.toString());
        const events = createTable(['at', 'action', 'from', 'to', 'author', 'comment']);
        for (const h of history) events.push([new Date(h.at).toISOString(), h.action, h.previous ?? '', h.version, h.author, h.comment]);
        console.log(events.toString());
      }),
    );
}

interface ExplainOptions extends ConnectionOptions {
  jsonl?: boolean;
  policy?: string;
}

function explainCommand(): Command {
  return withConnectionOptions(new Command('explain'))
    .description('print the decision { lane, model, rule, policyVersion, features } for a request')
    .argument('[file]', 'request JSON file, or - for standard input', '-')
    .option('--jsonl', 'one request per line in, one decision per line out')
    .option('--policy <file>', 'evaluate this policy file instead of the active one (no Redis needed)')
    .action(async (file: string, options: ExplainOptions) => {
      const compiled = options.policy
        ? new CompiledPolicy(parsePolicy(readJsonFile(options.policy)), 0)
        : await withRedis(options.redis, async (redis) => {
            const store = new PolicyStore(redis, options.prefix);
            return store.compiled((await store.active()).version);
          });
      const explain = (value: unknown) => {
        try {
          const d = compiled.evaluate(parseGenerateRequest(unwrap(value)));
          return { lane: d.lane, model: d.model, rule: d.rule, policyVersion: d.policyVersion, features: d.features };
        } catch (error) {
          if (error instanceof FleetError) return error.toJSON();
          return { error: { code: errorCodeOf(error), message: String(error) } };
        }
      };
      const text = readInput(file);
      if (!options.jsonl) {
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch (error) {
          throw new CommandFailure(`${file}: not valid JSON (${(error as Error).message})`);
        }
        const out = explain(value);
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
    });
}

interface TestOptions extends ConnectionOptions {
  requests: string;
  force?: boolean;
  models: string;
}

function testCommand(): Command {
  return withConnectionOptions(new Command('test'))
    .description('how a candidate policy would shift lanes, models and cost per render against the active one (its targets checked against the models workers serve)')
    .argument('<file>', 'candidate policy JSON')
    .requiredOption('--requests <file>', 'requests, one JSON per line (bare or { request } lines)')
    .option('--force', 'show the figures even when a rule routes to a model no worker serves on its lane')
    .option('--models <dir>', 'model repository for cost units when no worker has published its catalogue (env FLEET_MODELS)', readConfig().modelsDir)
    .action(async (file: string, options: TestOptions) => {
      const candidate = new CompiledPolicy(parsePolicy(policyDocumentOf(readJsonFile(file))), 0);
      const requests = readRequests(options.requests);
      const { active, catalogue } = await withRedis(options.redis, async (redis) => {
        const store = new PolicyStore(redis, options.prefix);
        return { active: await store.compiled((await store.active()).version), catalogue: await readModelCatalogue(redis, options.prefix) };
      });
      checkTargets(candidate.document, catalogue, options.force === true, 'candidate');
      const impact = comparePolicies(active, candidate, requests, await costUnitsOf(catalogue, options.models));
      if (options.json) return console.log(JSON.stringify({ activeVersion: active.version, ...impact }));
      console.log(`${impact.total} requests: ${impact.changed} would move (active v${active.version} → ${file})`);
      const lanes = createTable(['lane', `active v${active.version}`, 'candidate']);
      for (const lane of new Set([...Object.keys(impact.lanes.active), ...Object.keys(impact.lanes.candidate)])) {
        lanes.push([lane, pct(impact.lanes.active[lane], impact.total), pct(impact.lanes.candidate[lane], impact.total)]);
      }
      console.log(lanes.toString());
      for (const [title, shifts] of [['lane shifts', impact.laneShifts], ['model shifts', impact.modelShifts]] as const) {
        const entries = Object.entries(shifts);
        if (entries.length > 0) console.log(`${title}: ${entries.map(([k, n]) => `${k} ×${n}`).join(', ')}`);
      }
      const cost = impact.costPerRender;
      const unknown = cost.unknownCost === 0 ? '' : `; ${cost.unknownCost} request(s) left out: a model's cost is unknown`;
      console.log(`cost per render: ${cost.active.toFixed(3)} → ${cost.candidate.toFixed(3)} units (×${cost.ratio.toFixed(3)}, the models' costUnitsPerImage)${unknown}`);
      console.log(`candidate rules hit: ${candidate.document.rules.map((r) => `${r.id} ${impact.candidateRuleHits[r.id] ?? 0}`).join(', ')}`);
    });
}
