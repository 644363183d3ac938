/**
 * Scrubs secrets out of whatever is about to be logged, at any depth: values under secret-sounding keys
 * (`password`, `token`, `authorization`, `secretAccessKey`, … in any case), passwords inside URLs
 * (`redis://:pw@host`, `https://user:pw@host`), bearer/basic credentials and signed-URL query parameters
 * inside any string, including error messages, stacks and causes. pino's path-based `redact` only sees
 * fixed paths; this is the net under it.
 */

export const REDACTED = '[redacted]';

/** Keys whose values are secrets, compared lowercase with `-` and `_` removed. */
const SECRET_KEY = /(pass(word|wd|phrase)?|secret|secretaccesskey|token|accesstoken|refreshtoken|sessiontoken|authorization|proxyauthorization|cookie|setcookie|credentials?|apikey|privatekey|signature)$/;

/** `scheme://user:password@` or `scheme://secret@` (userinfo without a colon is a password to Redis). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@]*)@/gi;
const AUTH_SCHEME = /\b(Bearer|Basic|Token)\s+[A-Za-z0-9._~+/=-]+/gi;
/** `name=value` / `name: value` for secret names, in query strings, config dumps and free text. */
const SECRET_ASSIGNMENT =
  /\b((?:password|passwd|pwd|pass|secret|client_secret|token|access_token|refresh_token|session_token|api_?key|x-amz-signature|x-amz-credential|x-amz-security-token|(?:aws_)?secret_?access_?key)["']?\s*[:=]\s*["']?)[^\s"'&,;]+/gi;

/** Cheap pre-check: what URL_USERINFO (`@`), SECRET_ASSIGNMENT (`:` or `=`) and AUTH_SCHEME (its words) need. */
const MAY_HOLD_SECRET = /[@:=]|bearer|basic|token/i;

/** Redis commands whose arguments carry credentials. */
const CREDENTIAL_COMMANDS = new Set(['auth', 'hello', 'migrate', 'acl', 'config']);

const MAX_DEPTH = 12;

/** Verdicts on keys seen so far: log lines reuse a small vocabulary of keys. Bounded, in case keys are data. */
const secretKeyVerdicts = new Map<string, boolean>();
const MAX_KEY_VERDICTS = 4096;

function isSecretKey(key: string): boolean {
  let verdict = secretKeyVerdicts.get(key);
  if (verdict === undefined) {
    verdict = SECRET_KEY.test(key.toLowerCase().replace(/[-_]/g, ''));
    if (secretKeyVerdicts.size < MAX_KEY_VERDICTS) secretKeyVerdicts.set(key, verdict);
  }
  return verdict;
}

/** The string with credentials inside URLs, auth headers and query strings replaced. */
export function redactString(text: string): string {
  // Every pattern below needs one of these; most log strings (ids, keys, messages) have none and skip the scans.
  if (!MAY_HOLD_SECRET.test(text)) return text;
  return text
    .replace(URL_USERINFO, (_all, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':');
      return `${scheme}${colon > 0 ? `${userinfo.slice(0, colon)}:***` : '***'}@`;
    })
    .replace(AUTH_SCHEME, (_all, scheme: string) => `${scheme} ${REDACTED}`)
    .replace(SECRET_ASSIGNMENT, `$1${REDACTED}`);
}

/**
 * A copy of `value` with secrets replaced. Plain objects, arrays and errors are walked (errors keep
 * their prototype, so serializers still see an error); URLs become redacted strings; other class
 * instances (requests, sockets, buffers) are left to pino's serializers and path redaction.
 */
export function redactSecrets(value: unknown): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  return flatPlainObject(value) ?? walk(value, 0, new WeakSet());
}

/**
 * The common log argument, a plain object of primitives (ids, sizes, timings), redacted without the walk's
 * bookkeeping; undefined for anything else, which the walk handles (an ioredis command on an error,
 * `{ name: 'auth', args: [password] }`, holds an array, so it is walked).
 */
function flatPlainObject(value: object): Record<string, unknown> | undefined {
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) continue;
    const item = (value as Record<string, unknown>)[key];
    if (item !== null && typeof item === 'object') return undefined;
    out[key] = isSecretKey(key) && item !== undefined && item !== null && item !== false ? REDACTED : typeof item === 'string' ? redactString(item) : item;
  }
  return out;
}

function walk(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof URL) return redactString(value.href);
  if (value instanceof Error) return walkError(value, depth, seen);
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1, seen));
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] = isSecretKey(key) && item !== undefined && item !== null && item !== false ? REDACTED : walk(item, depth + 1, seen);
    }
    // ioredis puts the failed command on its errors: `{ name: 'auth', args: [password] }`.
    if (typeof out.name === 'string' && CREDENTIAL_COMMANDS.has(out.name.toLowerCase()) && Array.isArray(out.args)) out.args = [REDACTED];
    return out;
  } finally {
    seen.delete(value);
  }
}

function walkError(error: Error, depth: number, seen: WeakSet<object>): Error {
  seen.add(error);
  try {
    const copy = Object.create(Object.getPrototypeOf(error) as object) as Error & Record<string, unknown>;
    Object.defineProperty(copy, 'message', { value: redactString(String(error.message)), writable: true, configurable: true, enumerable: false });
    if (error.stack !== undefined) Object.defineProperty(copy, 'stack', { value: redactString(error.stack), writable: true, configurable: true, enumerable: false });
    if (error.cause !== undefined) Object.defineProperty(copy, 'cause', { value: walk(error.cause, depth + 1, seen), writable: true, configurable: true, enumerable: false });
    for (const [key, item] of Object.entries(error)) {
      copy[key] = isSecretKey(key) && item !== undefined && item !== null ? REDACTED : walk(item, depth + 1, seen);
    }
    return copy;
  } finally {
    seen.delete(error);
  }
}
