import { InvalidArgumentError } from 'commander';
import { isLane, LANES, type Lane } from '../contract/index.js';

/** Parses `<lane|all>` (or a comma-separated list) for commander; a usage error (exit 2) otherwise. */
export function parseLaneList(value: string): Lane[] {
  if (value === 'all') return [...LANES];
  const lanes = value.split(',').map((l) => l.trim());
  for (const lane of lanes) {
    if (!isLane(lane)) throw new InvalidArgumentError(`unknown lane ${JSON.stringify(lane)} (lanes: ${LANES.join(', ')}, or all)`);
  }
  return [...new Set(lanes)] as Lane[];
}

/** Parses one lane (no `all`). */
export function parseLane(value: string): Lane {
  if (!isLane(value)) throw new InvalidArgumentError(`unknown lane ${JSON.stringify(value)} (lanes: ${LANES.join(', ')})`);
  return value;
}
