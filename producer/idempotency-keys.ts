import { createHash, createHmac, randomBytes } from 'node:crypto';
import { fleetKey, type GenerateRequest, type RedisClient } from '../contract/index.js';

/**
 * What an idempotency key maps to in Redis (`<prefix>:idem:<digest>`): the job's id and the fingerprint of the
 * request that made it, so the same key with another request is a conflict instead of the first job.
 */
export interface IdempotencyRecord {
  id: string;
  fingerprint: string;
}

/** Parses a stored record; records written before fingerprints were kept are a bare job id (never in conflict). */
export function parseIdempotencyRecord(value: string): IdempotencyRecord {
  if (!value.startsWith('{')) return { id: value, fingerprint: '' };
  return JSON.parse(value) as IdempotencyRecord;
}

/**
 * The request's fingerprint: sha256 of its canonical JSON (keys sorted) without the key itself. A seed the client
 * did not give is not part of it (the producer draws one per job), so a plain retry matches.
 */
export function requestFingerprint(request: GenerateRequest): string {
  const { idempotencyKey: _key, ...rest } = request;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex').slice(0, 32);
}

/**
 * The digest an idempotency key is stored and its job id derived under: HMAC-SHA256 with the fleet's id secret over
 * (caller, account, key), so nobody without the secret can compute another account's job id from its key.
 */
export function idempotencyDigest(secret: string, caller: string, accountId: string, key: string): string {
  return createHmac('sha256', secret).update(`${caller}\u0000${accountId}\u0000${key}`).digest('hex').slice(0, 32);
}

/**
 * The fleet's id secret: the configured one, else the one kept in Redis (`<prefix>:id-secret`), made on first use by
 * whichever ingress comes first (SET NX), so every ingress derives the same ids.
 */
export async function loadIdSecret(redis: RedisClient, prefix: string): Promise<string> {
  const key = fleetKey(prefix, 'id-secret');
  await redis.set(key, randomBytes(32).toString('hex'), 'NX');
  const secret = await redis.get(key);
  if (secret === null) throw new Error(`${key} vanished right after it was set`);
  return secret;
}

function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
