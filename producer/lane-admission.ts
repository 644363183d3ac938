import { Job, type JobsOptions, type Queue } from 'bullmq';
import { TickBatch, type BatchOutcome } from './tick-batch.js';

/**
 * The depth check put in front of each of BullMQ's add scripts, so checking a lane's depth and adding the job are
 * one atomic script: two ingresses cannot both take the last place, and nothing is reserved or given back. The
 * lane's keys come after BullMQ's own keys, the lane's limit after BullMQ's own arguments, so BullMQ's script reads
 * its KEYS and ARGV where it always does. A refusal returns `{ 'E_BACKPRESSURE', depth }` before BullMQ's script
 * runs: nothing was written.
 */
function admitThenAdd(bullmqLua: string, bullmqKeys: number): string {
  const wait = bullmqKeys + 1;
  return `
local fleetDepth = redis.call('LLEN', KEYS[${wait}]) + redis.call('LLEN', KEYS[${wait + 1}]) + redis.call('ZCARD', KEYS[${wait + 2}])
if fleetDepth >= tonumber(ARGV[#ARGV]) then
  return { 'E_BACKPRESSURE', fleetDepth }
end
${bullmqLua}`;
}

/** BullMQ's add scripts (named `<name>:<BullMQ version>` on a connection BullMQ set up). */
const BULLMQ_ADD_SCRIPT = /^add(Standard|Prioritized|Delayed)Job:/;
/** The admitting copy of BullMQ's script `name` on the same connection. */
const admittingName = (name: string) => `fleetAdmit:${name}`;

/** What ioredis keeps of each script a connection defined. */
interface ScriptsSet {
  scriptsSet: Record<string, { lua: string; numberOfKeys: number | null }>;
  defineCommand(name: string, definition: { lua: string; numberOfKeys: number }): void;
}

/** BullMQ's transaction: its add of a job calls `runCommand(<script name>, [keys…, args…])` synchronously. */
interface AddTransaction {
  runCommand(name: string, args: unknown[]): unknown;
  exec(): Promise<Array<[Error | null, unknown]> | null>;
}

export type AddOutcome = { added: true; id: string } | { added: false; depth: number };

interface AddCall {
  queue: Queue;
  name: string;
  data: unknown;
  opts: JobsOptions & { jobId: string };
  maxWaiting: number;
}

/**
 * A producer's adds, each admitted exactly against its lane's waiting depth across every ingress: BullMQ's own add,
 * run with the depth check in front of it (see `admitThenAdd`). The adds of one event-loop turn go to Redis as one
 * MULTI per lane, one round trip (see `TickBatch`); each call keeps its own outcome, so a job refused, or an add
 * Redis refused, fails alone. All keys share the lane's hash tag `{<prefix>:<lane>}`, so this runs in one slot on a
 * Redis Cluster too.
 */
export class LaneAdmission {
  private readonly adds = new TickBatch<AddCall, AddOutcome>((_key, calls) => this.addAll(calls));
  /** Connections whose admitting scripts are defined. */
  private readonly prepared = new WeakSet<object>();

  /**
   * Adds the job when its lane's waiting depth is under `maxWaiting`. Resolves with the job's id (an existing job's
   * id when the id was taken: BullMQ adds nothing then), or with the depth that refused it.
   */
  add<D>(queue: Queue<D>, name: string, data: D, opts: JobsOptions & { jobId: string }, maxWaiting: number): Promise<AddOutcome> {
    return this.adds.call(queue.qualifiedName, { queue: queue as Queue, name, data, opts, maxWaiting });
  }

  private async addAll(calls: AddCall[]): Promise<Array<BatchOutcome<AddOutcome>>> {
    const { queue } = calls[0]!;
    const client = await queue.getBackend().client;
    const scripts = client as unknown as ScriptsSet;
    this.prepare(scripts);
    // BullMQ's transaction copies the connection's scripts when made, so it is made after they are defined.
    const multi = (client as unknown as { multi(): AddTransaction & Record<string, (args: unknown[]) => unknown> }).multi();
    const laneKeys = [queue.keys.wait!, queue.keys.paused!, queue.keys.prioritized!];
    let limit = '';
    multi.runCommand = (name, args) => {
      const script = scripts.scriptsSet[name];
      const admitting = admittingName(name);
      if (script?.numberOfKeys == null || typeof multi[admitting] !== 'function') throw new Error(`BullMQ added a job with script ${name}, which has no admitting copy`);
      multi[admitting]!([...args.slice(0, script.numberOfKeys), ...laneKeys, ...args.slice(script.numberOfKeys), limit]);
      return multi;
    };
    for (const { name, data, opts, maxWaiting } of calls) {
      limit = String(maxWaiting);
      const job = new Job(queue as never, name, data, { ...queue.jobsOpts, ...opts }, opts.jobId);
      // Queued synchronously; its own promise settles with the EXEC and is read from EXEC's results instead.
      job.addJob(multi as never).catch(() => {});
    }
    const results = await multi.exec();
    if (results === null) throw new Error(`the adds of ${calls.length} job(s) were discarded by Redis (MULTI aborted)`);
    return calls.map(({ opts }, i) => {
      const [error, reply] = results[i]!;
      if (error !== null) return { error };
      if (Array.isArray(reply) && reply[0] === 'E_BACKPRESSURE') return { value: { added: false, depth: Number(reply[1]) } };
      if (typeof reply === 'number' && reply < 0) return { error: new Error(`Redis refused the add of job ${opts.jobId} (BullMQ code ${reply})`) };
      return { value: { added: true, id: String(reply) } };
    });
  }

  /** Defines the admitting copy of each of BullMQ's add scripts on this connection (once). */
  private prepare(scripts: ScriptsSet): void {
    if (this.prepared.has(scripts)) return;
    let found = 0;
    for (const [name, script] of Object.entries(scripts.scriptsSet)) {
      if (!BULLMQ_ADD_SCRIPT.test(name) || script.numberOfKeys == null) continue;
      scripts.defineCommand(admittingName(name), { lua: admitThenAdd(script.lua, script.numberOfKeys), numberOfKeys: script.numberOfKeys + 3 });
      found++;
    }
    if (found === 0) throw new Error("BullMQ's add scripts are not defined on this connection");
    this.prepared.add(scripts);
  }
}
