import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Cluster, Redis } from 'ioredis';
import { duplicateRedisConnection, isConnectionError, isRedisCluster, type RedisClient } from '../contract/index.js';
import { AddNotSentError, waitForConnection } from './add-outcome.js';

interface BullmqScript {
  name: string;
  content: string;
  keys: number;
}

interface Script extends BullmqScript {
  /** What EVALSHA names it by. */
  sha: string;
}

/** BullMQ's Lua scripts by export name; BullMQ calls each as `<name>:<version>`. */
const BULLMQ_SCRIPTS = new Map<string, Script>(
  Object.values(createRequire(import.meta.url)('bullmq/dist/cjs/scripts/index.js') as Record<string, BullmqScript>).map((s) => [
    s.name,
    { ...s, sha: createHash('sha1').update(s.content).digest('hex') },
  ]),
);

/** What BullMQ's `Job.addJob` queues its add on (it calls `runCommand('<script>:<version>', args)`), and the fleet's own commands. */
export interface AddTransaction {
  runCommand(name: string, args: unknown[]): AddTransaction;
  /** A plain Redis command in the same MULTI. */
  call(command: string, ...args: Array<string | number>): AddTransaction;
}

/** One command's outcome in the EXEC, in the order they were queued. */
export type TransactionResult = [error: Error | null, value: unknown];

/** A command as `fill` queued it: a BullMQ script (by `<name>:<version>`) or a plain command. */
type Queued = { script: Script | undefined; command: string; args: unknown[] };

type Commands = Record<string, (this: unknown, args: unknown[]) => unknown>;

/**
 * MULTIs of job adds, on a connection of their own, written as plain commands: MULTI, each add as EVALSHA, EXEC.
 * An ioredis `Pipeline` (what `multi()` builds) gives every instance its own property accessor and `exec` closures;
 * V8 keeps those in old space until a full GC, and they hold the pipeline, its commands and their job data, so every
 * add's objects outlived two scavenges and were copied into the old generation (bench/NOTES.md). Commands written in
 * one synchronous run cannot be split by another caller's: JavaScript does not interleave, and Redis answers one
 * connection in order.
 *
 * Scripts are loaded with SCRIPT LOAD once per connection (again after a reconnect, which may reach a new Redis)
 * rather than sent by ioredis's script commands: those resend an EVALSHA Redis did not know as a new EVAL, which
 * from a MULTI would run the add outside the transaction. A script Redis forgot (its cache flushed) fails only its
 * own command in the EXEC (see `isNoScriptError`) and is loaded again for the next transaction.
 *
 * On a Redis Cluster the commands must follow the slot to its node, which ioredis's cluster pipeline does: there
 * the MULTI is a pipeline as before. The connection is a request connection (it fails fast while Redis is away).
 */
export class AddTransactions {
  readonly connection: RedisClient;
  /** The scripts Redis is known to hold on the current connection (cleared when it reconnects). */
  private readonly loaded = new Set<string>();

  constructor(main: RedisClient, connectionName = 'fleet-producer-adds') {
    // A transaction's commands are written together or not at all: ioredis must not defer some of them to a later
    // pipeline, nor resend after a reconnect the ones Redis had not answered (without the MULTI Redis dropped with
    // the connection). An add in flight then fails with its command timeout, and its outcome is confirmed.
    this.connection = duplicateRedisConnection(main, { role: 'request', connectionName, node: { enableAutoPipelining: false, autoResendUnfulfilledCommands: false } });
    this.connection.on('error', () => {});
    this.connection.on('close', () => this.loaded.clear());
  }

  /** Resolves true once the connection is up (false after `timeoutMs`): a command sent before would be refused unsent. */
  ready(timeoutMs: number): Promise<boolean> {
    return waitForConnection(this.connection, timeoutMs);
  }

  /**
   * Runs what `fill` queues (synchronously: BullMQ's `addJob` queues its command before its first await) as one
   * MULTI … EXEC, and resolves with each command's outcome. Rejects when the EXEC itself fails (Redis away or
   * silent: see `isUnsentCommandError` for what was never written).
   */
  async run(fill: (transaction: AddTransaction) => void, expected: number): Promise<TransactionResult[]> {
    const queued: Queued[] = [];
    const transaction: AddTransaction = {
      runCommand: (name, args) => {
        const script = BULLMQ_SCRIPTS.get(name.slice(0, name.lastIndexOf(':')));
        if (script === undefined) throw new Error(`BullMQ asked for script ${name}, which bullmq/dist/cjs/scripts does not hold`);
        queued.push({ script, command: name, args });
        return transaction;
      },
      call: (command, ...args) => {
        queued.push({ script: undefined, command, args });
        return transaction;
      },
    };
    fill(transaction);
    // A command queued later (BullMQ awaiting first) would miss the transaction: then none of it is sent.
    if (queued.length !== expected) throw new Error(`expected ${expected} commands in the transaction, ${queued.length} were queued (did BullMQ's addJob await before queueing?)`);
    return isRedisCluster(this.connection) ? this.runOnCluster(this.connection, queued) : this.runPlain(this.connection, queued);
  }

  close(): void {
    this.connection.disconnect();
  }

  private async runPlain(redis: Redis, queued: Queued[]): Promise<TransactionResult[]> {
    for (const { script } of queued) {
      if (script === undefined || this.loaded.has(script.sha)) continue;
      try {
        await redis.script('LOAD', script.content);
      } catch (error) {
        if (!isConnectionError(error)) throw error;
        throw new AddNotSentError(`loading BullMQ's ${script.name} script failed, so no add of this transaction was sent: ${(error as Error).message}`, { cause: error });
      }
      this.loaded.add(script.sha);
    }
    // Only in this state is every command written (or every one refused): before it, MULTI and EXEC could go alone.
    if (redis.status !== 'ready') throw new AddNotSentError(`the adds' connection is ${redis.status}; no add of this transaction was sent`);
    // Written in one synchronous run: nothing else this connection sends can land between MULTI and EXEC (it has
    // no offline queue, no auto-pipelining and resends nothing after a reconnect). The socket is corked meanwhile,
    // so the commands leave in one write instead of a system call each. Each command's own reply is QUEUED; a
    // refusal shows again in EXEC's answer, which is read instead.
    const socket = redis.stream as { cork?(): void; uncork?(): void } | undefined;
    const queue = (reply: Promise<unknown>) => void reply.catch(() => {});
    let exec: Promise<TransactionResult[] | null> | undefined;
    socket?.cork?.();
    try {
      queue(redis.multi({ pipeline: false }));
      for (const { script, command, args } of queued) {
        queue(script === undefined ? redis.call(command, ...(args as string[])) : redis.call('EVALSHA', script.sha, script.keys, ...(args as string[])));
      }
      exec = redis.exec() as Promise<TransactionResult[] | null>;
    } finally {
      // A throw between MULTI and EXEC would leave the connection inside this transaction for the next one.
      if (exec === undefined) queue(redis.call('DISCARD'));
      socket?.uncork?.();
    }
    let results: TransactionResult[] | null;
    try {
      results = await exec;
    } catch (error) {
      // EXECABORT: a command was refused as it was queued, and nothing ran; the scripts' cache may be why.
      if (/EXECABORT/.test((error as Error).message)) this.loaded.clear();
      throw error;
    }
    if (results === null || results.length !== queued.length) throw new Error(`EXEC answered ${results?.length ?? 'null'} results for the ${queued.length} commands of the transaction`);
    // Redis looks a script up when EXEC runs it: the commands around a NOSCRIPT ran, that one did not.
    if (results.some(([error]) => isNoScriptError(error))) this.loaded.clear();
    return results;
  }

  /** ioredis's cluster pipeline routes the MULTI to the slot's node; its script commands are defined on first use. */
  private async runOnCluster(cluster: Cluster, queued: Queued[]): Promise<TransactionResult[]> {
    const multi = cluster.multi();
    const commands = multi as unknown as Commands;
    for (const { script, command, args } of queued) {
      if (script === undefined) {
        (multi as unknown as Record<string, (...a: unknown[]) => unknown>)[command.toLowerCase()]!(...args);
        continue;
      }
      // A pipeline copies the connection's commands when it is built: one built before `command` was first defined lacks it.
      if ((cluster as unknown as Commands)[command] === undefined) cluster.defineCommand(command, { numberOfKeys: script.keys, lua: script.content });
      commands[command] ??= (cluster as unknown as Commands)[command]!;
      commands[command].call(multi, args);
    }
    const results = await multi.exec();
    if (results === null) throw new Error(`the transaction of ${queued.length} command(s) was discarded by Redis (MULTI aborted)`);
    return results;
  }
}

/**
 * Redis did not know a script it was asked to run (its cache was flushed), so that command did nothing. Inside an
 * EXEC the commands around it ran: an add refused so had its reservation given back with the rest.
 */
export function isNoScriptError(error: unknown): boolean {
  return /NOSCRIPT/.test((error as Error | undefined)?.message ?? '');
}
