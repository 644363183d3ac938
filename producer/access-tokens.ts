import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError, FleetError, TIERS, type GenerateRequest, type Tier } from '../contract/index.js';

/**
 * Who may do what at the ingress. Each token has a name (recorded on the jobs it submits), the tiers it may claim,
 * the accounts it may act for, and whether it may read every job (an operator's token: dashboards, support).
 * Any other token reads only the jobs it submitted. The tokens file is JSON:
 *
 * ```json
 * { "tokens": [
 *   { "name": "editor-eu", "sha256": "<hex sha256 of the token>", "tiers": ["free", "pro"], "accounts": ["eu-*"] },
 *   { "name": "ops", "token": "<the token itself>", "tiers": "*", "accounts": "*", "readAllJobs": true } ] }
 * ```
 */

/** One token's scopes. */
export interface AccessScope {
  /** Recorded on the jobs it submits (`JobData.submittedBy`). */
  name: string;
  /** The tiers it may claim in `account.tier`. */
  tiers: readonly Tier[];
  /** Account ids it may act for: exact ids, `prefix*` patterns, or `*` for any. */
  accounts: readonly string[];
  /** May read every job (and `/metrics`), not only those it submitted. */
  readAllJobs: boolean;
}

const tokenEntrySchema = z
  .strictObject({
    /** 1–64 characters of [A-Za-z0-9._-]. */
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be 1–64 characters of [A-Za-z0-9._-]' }),
    /** The token itself (at least 16 characters)… */
    token: z.string().min(16, { message: 'must be at least 16 characters' }).optional(),
    /** …or its SHA-256 in hex, so the file holds no usable secret. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/i, { message: 'must be 64 hex digits' }).optional(),
    /** `*` or a list of tiers. */
    tiers: z.union([z.literal('*'), z.array(z.enum(TIERS)).min(1)]),
    /** `*` or a list of account ids and `prefix*` patterns. */
    accounts: z.union([z.literal('*'), z.array(z.string().regex(/^[A-Za-z0-9._:@-]+\*?$|^\*$/, { message: 'must be an account id, a prefix ending in *, or *' })).min(1)]),
    /** @default false */
    readAllJobs: z.boolean().default(false),
  })
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), { message: 'give exactly one of token and sha256' });

const tokensFileSchema = z.strictObject({ tokens: z.array(tokenEntrySchema).min(1) });

interface TokenEntry {
  scope: AccessScope;
  digest: Buffer;
}

/** The ingress's tokens: checks a bearer header in constant time against every token and returns its scopes. */
export class AccessTokens {
  private constructor(private readonly entries: readonly TokenEntry[]) {}

  /** The tokens of a tokens file's JSON. @throws ConfigError (E_CONFIG) naming the path of the first problem. */
  static parse(json: unknown, source = 'tokens'): AccessTokens {
    const parsed = tokensFileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const path = [source, ...issue.path.map(String)].join('.');
      throw new ConfigError(`${path}: ${issue.code === 'unrecognized_keys' ? `unknown field ${issue.keys.join(', ')}` : issue.message}`, path);
    }
    const names = new Set<string>();
    const entries = parsed.data.tokens.map((t, i) => {
      if (names.has(t.name)) throw new ConfigError(`${source}.tokens.${i}.name: duplicate token name ${t.name}`, `${source}.tokens.${i}.name`);
      names.add(t.name);
      return {
        digest: t.sha256 !== undefined ? Buffer.from(t.sha256, 'hex') : sha256(t.token!),
        scope: { name: t.name, tiers: t.tiers === '*' ? [...TIERS] : t.tiers, accounts: t.accounts === '*' ? ['*'] : t.accounts, readAllJobs: t.readAllJobs },
      };
    });
    return new AccessTokens(entries);
  }

  /** Reads a tokens file. @throws ConfigError when it cannot be read or parsed. */
  static fromFile(path: string): AccessTokens {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new ConfigError(`tokens file ${path}: ${(error as Error).message}`, 'FLEET_TOKENS_FILE', { cause: error });
    }
    return AccessTokens.parse(json, path);
  }

  /** The one all-powerful token of `FLEET_TOKEN`, named `default`: every tier, every account, every job. */
  static single(token: string): AccessTokens {
    return new AccessTokens([{ digest: sha256(token), scope: { name: 'default', tiers: [...TIERS], accounts: ['*'], readAllJobs: true } }]);
  }

  /** The scopes of the token in an `Authorization: Bearer <token>` header, or undefined. Every entry is compared. */
  authenticate(header: string | undefined): AccessScope | undefined {
    const match = header === undefined ? null : /^Bearer ([^\s]+)$/.exec(header);
    const digest = sha256(match?.[1] ?? '');
    let found: TokenEntry | undefined;
    for (const entry of this.entries) if (timingSafeEqual(entry.digest, digest) && match !== null) found ??= entry;
    return found?.scope;
  }
}

/** Refuses (E_FORBIDDEN, naming the field) a request that claims a tier or an account its token may not. */
export function assertWithinScope(scope: AccessScope, request: GenerateRequest): void {
  if (!scope.tiers.includes(request.account.tier)) {
    throw new FleetError('E_FORBIDDEN', `token ${scope.name} may not claim tier ${request.account.tier} (it may claim ${scope.tiers.join(', ')})`, { field: 'account.tier' });
  }
  if (!scope.accounts.some((pattern) => accountMatches(pattern, request.account.id))) {
    throw new FleetError('E_FORBIDDEN', `token ${scope.name} may not act for account ${request.account.id}`, { field: 'account.id' });
  }
}

function accountMatches(pattern: string, id: string): boolean {
  if (pattern === '*') return true;
  return pattern.endsWith('*') ? id.startsWith(pattern.slice(0, -1)) : id === pattern;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
