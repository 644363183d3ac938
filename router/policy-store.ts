import { hostname, userInfo } from 'node:os';
import { FleetError, policyKey, type RedisClient } from '../contract/index.js';
import { CompiledPolicy } from './compiled-policy.js';
import { loadDefaultPolicy } from './default-policy.js';
import { parsePolicy } from './parse-policy.js';
import type { PolicyDocument } from './policy-schema.js';

/** One immutable, numbered policy version. */
export interface PolicyVersion {
  version: number;
  document: PolicyDocument;
  /** Who made it (`user@host` unless given). */
  author: string;
  /** Epoch ms. */
  createdAt: number;
  comment: string;
  /** The figures a change was decided on (the canary controller's gates), when it gave them. */
  evidence?: Record<string, unknown>;
}

/** One change of the active version. */
export interface PolicyActivation {
  version: number;
  /** The version active before (null for the first). */
  previous: number | null;
  action: 'apply' | 'rollback' | 'seed';
  author: string;
  at: number;
  comment: string;
  /** As `PolicyVersion.evidence`. */
  evidence?: Record<string, unknown>;
}

export interface PolicyChangeOptions {
  /** @default `user@host` of this process */
  author?: string;
  /** @default '' */
  comment?: string;
  /** Figures the change was decided on, kept with the version and its activation. @default none */
  evidence?: Record<string, unknown>;
}

/**
 * Routing policies in Redis. Versions are immutable and numbered from 1; exactly one is active.
 * Activations form a stack: `apply` pushes, `rollback` pops back to what was active before (or, with
 * `to`, pushes an older version again), so repeated rollbacks walk back through the history.
 * Every change is published on `{<prefix>:policy}:changed` for hot switching.
 *
 * Keys: `{<prefix>:policy}:seq` (counter), `:versions` (hash version → JSON), `:active` (version),
 * `:stack` (list of active versions), `:history` (list of activations, newest last). The hash tag puts them
 * in one Redis Cluster slot, so the MULTI that stores and activates a version stays atomic on a cluster.
 */
export class PolicyStore {
  private readonly keys;

  constructor(
    private readonly redis: RedisClient,
    readonly prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    const key = (name: string) => policyKey(prefix, name);
    this.keys = { seq: key('seq'), versions: key('versions'), active: key('active'), stack: key('stack'), history: key('history'), channel: key('changed') };
  }

  /** The pub/sub channel that carries the new active version number on every change. */
  get channel(): string {
    return this.keys.channel;
  }

  /** The active version number, or null when none was ever applied. */
  async activeVersion(): Promise<number | null> {
    const value = await this.redis.get(this.keys.active);
    return value === null ? null : Number(value);
  }

  async get(version: number): Promise<PolicyVersion> {
    const raw = await this.redis.hget(this.keys.versions, String(version));
    if (raw === null) throw new FleetError('E_NOT_FOUND', `policy version ${version} does not exist`);
    return JSON.parse(raw) as PolicyVersion;
  }

  /** The active version; the shipped default is applied as version 1 when the store is empty. */
  async active(): Promise<PolicyVersion> {
    const version = (await this.activeVersion()) ?? (await this.seed());
    return this.get(version);
  }

  /** Validates, stores as a new version and activates it. An invalid policy is refused (E_POLICY_INVALID) and nothing changes. */
  async apply(input: unknown, options: PolicyChangeOptions = {}): Promise<PolicyVersion> {
    const document = parsePolicy(input);
    await this.active(); // make sure the default exists as version 1 before anything else
    return this.store(document, 'apply', options);
  }

  /** Returns to the version active before the current one, or to `to`. */
  async rollback(options: PolicyChangeOptions & { to?: number } = {}): Promise<PolicyActivation> {
    if (options.to !== undefined) await this.get(options.to);
    const template = { action: 'rollback', author: options.author ?? defaultAuthor(), at: this.now(), comment: options.comment ?? '' };
    const result = await this.activate(options.to === undefined ? 'rollback' : 'rollback-to', '{}', JSON.stringify(template), String(options.to ?? ''));
    if (result === 'none-active') throw new FleetError('E_NOT_FOUND', 'no policy is active yet: nothing to roll back');
    if (result === 'first') throw new FleetError('E_NOT_FOUND', 'the active version is the first: nothing to roll back to (use --to N)');
    return JSON.parse(result) as PolicyActivation;
  }

  /** Every version, oldest first. */
  async versions(): Promise<PolicyVersion[]> {
    const all = await this.redis.hvals(this.keys.versions);
    return all.map((raw) => JSON.parse(raw) as PolicyVersion).sort((a, b) => a.version - b.version);
  }

  /** Activations, oldest first. */
  async history(): Promise<PolicyActivation[]> {
    return (await this.redis.lrange(this.keys.history, 0, -1)).map((raw) => JSON.parse(raw) as PolicyActivation);
  }

  async compiled(version: number): Promise<CompiledPolicy> {
    return new CompiledPolicy((await this.get(version)).document, version);
  }

  /** Applies the shipped default policy as version 1, once, when nothing is active. */
  private async seed(): Promise<number> {
    const lock = policyKey(this.prefix, 'seeding');
    if ((await this.redis.set(lock, '1', 'EX', 10, 'NX')) === 'OK') {
      if ((await this.activeVersion()) === null) {
        return (await this.store(loadDefaultPolicy(), 'seed', { author: 'image-fleet', comment: 'shipped default policy' })).version;
      }
    }
    for (let i = 0; i < 100; i++) {
      const version = await this.activeVersion();
      if (version !== null) return version;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new FleetError('E_INTERNAL', 'another process is seeding the policy store and has not finished');
  }

  private async store(document: PolicyDocument, action: 'apply' | 'seed', options: PolicyChangeOptions): Promise<PolicyVersion> {
    const evidence = options.evidence === undefined ? {} : { evidence: options.evidence };
    const record = { document, author: options.author ?? defaultAuthor(), createdAt: this.now(), comment: options.comment ?? '', ...evidence };
    const template = { action, author: record.author, at: record.createdAt, comment: record.comment, ...evidence };
    const activation = JSON.parse(await this.activate(action, JSON.stringify(record), JSON.stringify(template), '')) as PolicyActivation;
    return { version: activation.version, ...record };
  }

  /**
   * Every change of the active version in one Lua script (all policy keys share a hash tag), so two
   * operators applying or rolling back at once cannot interleave: versions, the stack and the history
   * stay consistent, and `previous` is what really was active. Returns the activation as JSON, or
   * 'none-active' / 'first' when a rollback has nowhere to go.
   */
  private async activate(mode: 'apply' | 'seed' | 'rollback' | 'rollback-to', record: string, template: string, target: string): Promise<string> {
    const { active, stack, history, versions, seq, channel } = this.keys;
    return (await this.redis.eval(ACTIVATE_SCRIPT, 5, active, stack, history, versions, seq, mode, record, template, target, channel)) as string;
  }

}

// JSON is spliced as text, never decoded: cjson would turn a policy's empty arrays into objects.
const ACTIVATE_SCRIPT = `
local active, stack, history, versions, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local mode, record, template, target, channel = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local previous = redis.call('GET', active)
local version
if mode == 'apply' or mode == 'seed' then
  version = redis.call('INCR', seq)
  redis.call('HSET', versions, tostring(version), '{"version":' .. version .. ',' .. string.sub(record, 2))
  redis.call('RPUSH', stack, tostring(version))
elseif mode == 'rollback' then
  if not previous then return 'none-active' end
  local top = redis.call('LRANGE', stack, -2, -1)
  if #top < 2 then return 'first' end
  redis.call('RPOP', stack)
  version = tonumber(top[1])
else
  if not previous then return 'none-active' end
  version = tonumber(target)
  redis.call('RPUSH', stack, tostring(version))
end
local activation = '{"version":' .. version .. ',"previous":' .. (previous or 'null') .. ',' .. string.sub(template, 2)
redis.call('SET', active, tostring(version))
redis.call('RPUSH', history, activation)
redis.call('PUBLISH', channel, tostring(version))
return activation
`;

function defaultAuthor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}
