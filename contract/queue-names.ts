import type { Lane } from './lanes.js';

/**
 * BullMQ naming. Each lane is one queue named after the lane, under the BullMQ prefix
 * `{<fleet prefix>:<lane>}`: the braces are a Redis Cluster hash tag, so all keys of one lane share a
 * slot (BullMQ's Lua scripts need that) while different lanes spread over the masters.
 */
export function laneQueueName(lane: Lane): string {
  return lane;
}

export function laneQueuePrefix(prefix: string, lane: Lane): string {
  return `{${prefix}:${lane}}`;
}

/**
 * Fleet keys outside BullMQ that are only ever used one at a time (idempotency, workers) start with `<prefix>:`.
 * Keys that are written together (in a MULTI or one pipeline) use `groupKey` instead.
 */
export function fleetKey(prefix: string, ...parts: string[]): string {
  return [prefix, ...parts].join(':');
}

/**
 * A key of a group written together: `{<prefix>:<group>}:<parts>`. The hash tag puts the whole group in one
 * Redis Cluster slot (MULTI and pipelines need that), like a lane's BullMQ keys `{<prefix>:<lane>}`.
 */
export function groupKey(prefix: string, group: string, ...parts: string[]): string {
  return [`{${prefix}:${group}}`, ...parts].join(':');
}

/** Routing-policy keys (`{<prefix>:policy}:active`, `:versions`, …): one slot, for the store's MULTI. */
export function policyKey(prefix: string, name: string): string {
  return groupKey(prefix, 'policy', name);
}

/** Job ids carry their lane (`flash.<uuid>`), so `getJob(id)` needs no lookup. */
export function makeJobId(lane: Lane, unique: string): string {
  return `${lane}.${unique}`;
}

/** The lane of a job id, or undefined when the id is not one of ours. */
export function laneOfJobId(id: string): Lane | undefined {
  const dot = id.indexOf('.');
  if (dot <= 0) return undefined;
  const lane = id.slice(0, dot);
  return (['flash', 'large', 'typography', 'upscale'] as const).find((l) => l === lane);
}
