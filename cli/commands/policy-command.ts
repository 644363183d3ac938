import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { errorCodeOf, FleetError, parseGenerateRequest, readConfig, readModelCatalogue, type GenerateRequest, type ModelCatalogue } from '../../contract/index.js';
import { checkPolicyAgainstCatalogue, comparePolicies, CompiledPolicy, diffPolicies, parsePolicy, PolicyStore, type PolicyDocument } from '../../router/index.js';
import { ModelRepository } from '../../workers/index.js';
import { CommandFailure, integerOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { withRedis } from '../open-redis.js';
import { readInput } from '../read-input.js';
import { createTable } from '../table.js';

/** The `{ request }` wrapper of recorded lines (as in prompts.jsonl) or a bare request. */
function unwrap(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'request' in value && Object.keys(value).every((k) => ['request', 'lane', 'why'].includes(k))) {
    return (value as { request: unknown }).request;
  }
  return value;
}

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readInput(path));
  } catch (error) {
    throw new CommandFailure(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

function readRequests(path: string): GenerateRequest[] {
  return readInput(path)
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      try {
        return parseGenerateRequest(unwrap(JSON.parse(line)));
      } catch (error) {
        throw new CommandFailure(`${path}:${i + 1}: ${(error as Error).message}`);
      }
    });
}

/** A version number, or a policy file when the argument is not a number. */
async function documentOf(store: PolicyStore, ref: string): Promise<{ label: string; document: PolicyDocument }> {
  if (/^\d+$/.test(ref)) return { label: `v${ref}`, document: (await store.get(Number(ref))).document };
  return { label: ref, document: parsePolicy(readJsonFile(ref)) };
}

/**
 * What `policy show --json` prints is `{ version, document, author, … }`; `apply` takes that as well as a bare
 * policy, so the output of one feeds the other.
 */
function policyDocumentOf(input: unknown): unknown {
  if (input !== null && typeof input === 'object' && 'document' in input && 'version' in input) return (input as { document: unknown }).document;
  return input;
}

/** A stored document as people see it: versions written before cost units moved to the models drop their table. */
function withoutLegacyModels(document: PolicyDocument): PolicyDocument {
  const { models: _legacy, ...rest } = document as PolicyDocument & { models?: unknown };
  return rest;
}

/**
 * Refuses a policy whose targets the workers' catalogue says cannot be served, naming each rule; with `force`
 * only warns (bringing a fleet up before its workers).
 */
function checkTargets(document: PolicyDocument, catalogue: ModelCatalogue, force: boolean, what: string): void {
  const problems = checkPolicyAgainstCatalogue(document, catalogue);
  if (problems.length === 0) return;
  for (const problem of problems) console.error(`  ${problem.message}`);
  if (!force) throw new CommandFailure(`${what} refused: ${problems.length} target(s) the fleet cannot serve (first: ${problems[0]!.message}); --force to ${what === 'policy' ? 'apply' : 'test'} anyway`);
  console.error(`fleet policy: warning: ${problems.length} target(s) the fleet cannot serve; going on because of --force`);
}

/** Cost units per image of each model: the workers' catalogue, else the model repository's descriptions. */
async function costUnitsOf(catalogue: ModelCatalogue, modelsDir: string): Promise<(model: string) => number | undefined> {
  const fromRepository = new Map<string, number>();
  if (Object.keys(catalogue.models).length === 0) {
    for (const surveyed of await new ModelRepository(modelsDir).survey().catch(() => [])) {
      if (surveyed.model !== undefined) fromRepository.set(surveyed.name, surveyed.model.costUnitsPerImage);
    }
  }
  return (model) => catalogue.models[model]?.costUnitsPerImage ?? fromRepository.get(model);
}

function printPolicyError(error: unknown): never {
  if (error instanceof FleetError && error.code === 'E_POLICY_INVALID') {
    const issues = (error.details?.issues as Array<{ field: string; message: string }>) ?? [];
    for (const issue of issues) console.error(`  at ${issue.field}: ${issue.message}`);
  }
  throw error;
}

type Options = ConnectionOptions & Record<string, unknown>;

export function policyCommand(): Command {
  const policy = new Command('policy').description('routing policy: versions in Redis, hot switched, reversible');

  policy.addCommand(
    withConnectionOptions(new Command('show'))
      .description('print the active policy (or --version N) with who/when/comment')
      .option('--version <n>', 'a version instead of the active one', integerOption('version', 1, Number.MAX_SAFE_INTEGER))
      .action(async (options: Options) =>
        withRedis(options.redis, async (redis) => {
          const store = new PolicyStore(redis, options.prefix);
          const version = options.version === undefined ? await store.active() : await store.get(options.version as number);
          const active = await store.activeVersion();
          console.log(JSON.stringify({ ...version, document: withoutLegacyModels(version.document), active: version.version === active }, null, 2));
        }),
      ),
  );

  policy.addCommand(
    withConnectionOptions(new Command('apply'))
      .description('validate FILE, check its targets against the models workers serve, and make it the active policy (a refused policy leaves the active one)')
      .argument('<file>', 'policy JSON, or what `policy show --json` printed (or - for standard input)')
      .option('--comment <text>', 'why', '')
      .option('--author <name>', 'who (default user@host)')
      .option('--force', 'apply even when a rule routes to a model no worker serves on its lane (a warning instead)')
      .action(async (file: string, options: Options) => {
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
          const version = await store.apply(document, { comment: options.comment as string, ...(options.author ? { author: options.author as string } : {}) }).catch(printPolicyError);
          console.log(options.json ? JSON.stringify(version) : `applied policy v${version.version} (${version.document.name}); it is active now`);
        });
      }),
  );

  policy.addCommand(
    withConnectionOptions(new Command('rollback'))
      .description('return to the version active before the current one, or to --to N')
      .option('--to <n>', 'the version to return to', integerOption('to', 1, Number.MAX_SAFE_INTEGER))
      .option('--comment <text>', 'why', '')
      .action(async (options: Options) =>
        withRedis(options.redis, async (redis) => {
          const store = new PolicyStore(redis, options.prefix);
          const activation = await store.rollback({ comment: options.comment as string, ...(options.to === undefined ? {} : { to: options.to as number }) });
          console.log(options.json ? JSON.stringify(activation) : `rolled back from v${activation.previous} to v${activation.version}; it is active now`);
        }),
      ),
  );

  policy.addCommand(
    withConnectionOptions(new Command('diff'))
      .description('what changes from A to B (version numbers or policy files)')
      .argument('<a>')
      .argument('<b>')
      .action(async (a: string, b: string, options: Options) =>
        withRedis(options.redis, async (redis) => {
          const store = new PolicyStore(redis, options.prefix);
          const [from, to] = [await documentOf(store, a), await documentOf(store, b)];
          const changes = diffPolicies(from.document, to.document);
          if (options.json) return console.log(JSON.stringify(changes));
          if (changes.length === 0) return console.log(`${from.label} and ${to.label} route identically`);
          console.log(`${from.label} → ${to.label}`);
          for (const c of changes) {
            const sign = c.kind.endsWith('added') ? '+' : c.kind.endsWith('removed') ? '-' : '~';
            const detail = [c.before === undefined ? '' : `was ${fmt(c.before)}`, c.after === undefined ? '' : `now ${fmt(c.after)}`].filter(Boolean).join('; ');
            console.log(`${sign} ${c.kind} ${c.subject}: ${detail}`);
          }
        }),
      ),
  );

  policy.addCommand(
    withConnectionOptions(new Command('history'))
      .description('every version and activation, with who/when/comment')
      .action(async (options: Options) =>
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
      ),
  );

  policy.addCommand(
    withConnectionOptions(new Command('explain'))
      .description('print the decision { lane, model, rule, policyVersion, features } for a request')
      .argument('[file]', 'request JSON file, or - for standard input', '-')
      .option('--jsonl', 'one request per line in, one decision per line out')
      .option('--policy <file>', 'evaluate this policy file instead of the active one (no Redis needed)')
      .action(async (file: string, options: Options) => {
        const compiled = options.policy
          ? new CompiledPolicy(parsePolicy(readJsonFile(options.policy as string)), 0)
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
      }),
  );

  policy.addCommand(
    withConnectionOptions(new Command('test'))
      .description('how a candidate policy would shift lanes, models and cost per render against the active one (its targets checked against the models workers serve)')
      .argument('<file>', 'candidate policy JSON')
      .requiredOption('--requests <file>', 'requests, one JSON per line (bare or { request } lines)')
      .option('--force', 'show the figures even when a rule routes to a model no worker serves on its lane')
      .option('--models <dir>', 'model repository for cost units when no worker has published its catalogue (env FLEET_MODELS)', readConfig().modelsDir)
      .action(async (file: string, options: Options) => {
        const candidate = new CompiledPolicy(parsePolicy(policyDocumentOf(readJsonFile(file))), 0);
        const requests = readRequests(options.requests as string);
        const { active, catalogue } = await withRedis(options.redis, async (redis) => {
          const store = new PolicyStore(redis, options.prefix);
          return { active: await store.compiled((await store.active()).version), catalogue: await readModelCatalogue(redis, options.prefix) };
        });
        checkTargets(candidate.document, catalogue, options.force === true, 'candidate');
        const impact = comparePolicies(active, candidate, requests, await costUnitsOf(catalogue, options.models as string));
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
      }),
  );
  return policy;
}

function pct(n: number | undefined, total: number): string {
  return `${(((n ?? 0) / Math.max(total, 1)) * 100).toFixed(1)} % (${n ?? 0})`;
}

function fmt(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
