/**
 * Parses one log line as JSON and refuses a line whose objects repeat a key: `JSON.parse` keeps the last value
 * silently, while Elasticsearch and others reject such a document. Returns the parsed value.
 */
export function parseStrictJsonLine(line: string): Record<string, unknown> {
  const value = JSON.parse(line) as Record<string, unknown>;
  const keys: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(line.slice(i, j + 1)) as string;
        const seen = keys[keys.length - 1]!;
        if (seen.has(key)) throw new Error(`duplicate key ${JSON.stringify(key)} in ${line}`);
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      keys.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      keys.push(null);
    } else if (c === '}' || c === ']') {
      keys.pop();
    } else if (c === ',') {
      expectKey = keys[keys.length - 1] instanceof Set;
    }
  }
  return value;
}
