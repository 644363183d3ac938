import { FleetError, parseGenerateRequest, type GenerateRequest, type ModelCatalogue } from '../contract/index.js';
import { checkPolicyAgainstCatalogue, parsePolicy, PolicyStore, type PolicyDocument } from '../router/index.js';
import { ModelRepository } from '../workers/index.js';
import { CommandFailure } from './common-options.js';
import { readInput } from './read-input.js';

// What the `fleet policy` subcommands read (policy files, request lines) and how they report a policy's problems.

/** The `{ request }` wrapper of recorded lines (as in prompts.jsonl) or a bare request. */
export function unwrap(value: unknown): unknown {
  if (value !== null && typeof value === 'object' && 'request' in value && Object.keys(value).every((k) => ['request', 'lane', 'why'].includes(k))) {
    return (value as { request: unknown }).request;
  }
  return value;
}

export function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readInput(path));
  } catch (error) {
    throw new CommandFailure(`${path}: not valid JSON (${(error as Error).message})`);
  }
}

export function readRequests(path: string): GenerateRequest[] {
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
export async function documentOf(store: PolicyStore, ref: string): Promise<{ label: string; document: PolicyDocument }> {
  if (/^\d+$/.test(ref)) return { label: `v${ref}`, document: (await store.get(Number(ref))).document };
  return { label: ref, document: parsePolicy(readJsonFile(ref)) };
}

/**
 * What `policy show --json` prints is `{ version, document, author, … }`; `apply` takes that as well as a bare
 * policy, so the output of one feeds the other.
 */
export function policyDocumentOf(input: unknown): unknown {
  if (input !== null && typeof input === 'object' && 'document' in input && 'version' in input) return (input as { document: unknown }).document;
  return input;
}

/** A stored document as people see it: versions written before cost units moved to the models drop their table. */
export function withoutLegacyModels(document: PolicyDocument): PolicyDocument {
  const { models: _legacy, ...rest } = document as PolicyDocument & { models?: unknown };
  return rest;
}

/**
 * Refuses a policy whose targets the workers' catalogue says cannot be served, naming each rule; with `force`
 * only warns (bringing a fleet up before its workers).
 */
export function checkTargets(document: PolicyDocument, catalogue: ModelCatalogue, force: boolean, what: string): void {
  const problems = checkPolicyAgainstCatalogue(document, catalogue);
  if (problems.length === 0) return;
  for (const problem of problems) console.error(`  ${problem.message}`);
  if (!force) throw new CommandFailure(`${what} refused: ${problems.length} target(s) the fleet cannot serve (first: ${problems[0]!.message}); --force to ${what === 'policy' ? 'apply' : 'test'} anyway`);
  console.error(`fleet policy: warning: ${problems.length} target(s) the fleet cannot serve; going on because of --force`);
}

/** Cost units per image of each model: the workers' catalogue, else the model repository's descriptions. */
export async function costUnitsOf(catalogue: ModelCatalogue, modelsDir: string): Promise<(model: string) => number | undefined> {
  const fromRepository = new Map<string, number>();
  if (Object.keys(catalogue.models).length === 0) {
    for (const surveyed of await new ModelRepository(modelsDir).survey().catch(() => [])) {
      if (surveyed.model !== undefined) fromRepository.set(surveyed.name, surveyed.model.costUnitsPerImage);
    }
  }
  return (model) => catalogue.models[model]?.costUnitsPerImage ?? fromRepository.get(model);
}

export function printPolicyError(error: unknown): never {
  if (error instanceof FleetError && error.code === 'E_POLICY_INVALID') {
    const issues = (error.details?.issues as Array<{ field: string; message: string }>) ?? [];
    for (const issue of issues) console.error(`  at ${issue.field}: ${issue.message}`);
  }
  throw error;
}

/** `12.5 % (5)`: a count and its share of `total`. */
export function pct(n: number | undefined, total: number): string {
  return `${(((n ?? 0) / Math.max(total, 1)) * 100).toFixed(1)} % (${n ?? 0})`;
}

/** A changed value as a diff line shows it. */
export function formatValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
