import { hostname, userInfo } from 'node:os';

/** Who runs this command, `user@host`, as recorded in canaries and experiments. */
export function operatorName(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `unknown@${hostname()}`;
  }
}
