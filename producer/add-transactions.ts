import { createRequire } from 'node:module';
import type { ChainableCommander } from 'ioredis';
import { duplicateRedisConnection, type RedisClient } from '../contract/index.js';
import { waitForConnection } from './add-outcome.js';

interface BullmqScript {
  name: string;
  content: string;
  keys: number;
}

/** BullMQ's Lua scripts by export name; BullMQ defines each on a connection as `<name>:<version>`. */
const BULLMQ_SCRIPTS = Object.values(createRequire(import.meta.url)('bullmq/dist/cjs/scripts/index.js') as Record<string, BullmqScript>);

type Commands = Record<string, (this: unknown, args: unknown[]) => unknown>;

/** What BullMQ's `Job.addJob` queues its add on: BullMQ calls `runCommand('<script>:<version>', args)`. */
export interface AddTransaction {
  runCommand(name: string, args: unknown[]): AddTransaction;
}

/**
 * MULTIs of job adds, on a connection of their own. ioredis copies every script defined on a connection onto each
 * pipeline it makes, and the queues' connection carries all of BullMQ's scripts (some sixty): building a MULTI there
 * cost the ingress more main-thread time than the adds in it (bench/NOTES.md). This connection carries only the
 * scripts its adds call, defined on first use under the name BullMQ calls them by.
 *
 * It has the role of the connection it copies (a request connection fails fast while Redis is away).
 */
export class AddTransactions {
  readonly connection: RedisClient;

  constructor(main: RedisClient, connectionName = 'fleet-producer-adds') {
    this.connection = duplicateRedisConnection(main, { role: 'request', connectionName });
    this.connection.on('error', () => {});
  }

  /** Resolves true once the connection is up (false after `timeoutMs`): a command sent before would be refused unsent. */
  ready(timeoutMs: number): Promise<boolean> {
    return waitForConnection(this.connection, timeoutMs);
  }

  /** A MULTI to queue adds on (`transaction` for BullMQ, `multi` for the fleet's own commands), sent by `multi.exec()`. */
  begin(): { transaction: AddTransaction; multi: ChainableCommander } {
    const multi = this.connection.multi();
    const commands = multi as unknown as Commands;
    const transaction: AddTransaction = {
      runCommand: (name, args) => {
        // A pipeline copies the connection's commands when it is built: one built before `name` was first used lacks it.
        commands[name] ??= this.command(name);
        commands[name].call(multi, args);
        return transaction;
      },
    };
    return { transaction, multi };
  }

  close(): void {
    this.connection.disconnect();
  }

  /** The connection's command for a BullMQ script name (`<script>:<version>`), defined on first use. */
  private command(name: string): Commands[string] {
    const commands = this.connection as unknown as Commands;
    if (commands[name] === undefined) {
      const base = name.slice(0, name.lastIndexOf(':'));
      const script = BULLMQ_SCRIPTS.find((s) => s.name === base);
      if (script === undefined) throw new Error(`BullMQ asked for script ${name}, which bullmq/dist/cjs/scripts does not hold`);
      this.connection.defineCommand(name, { numberOfKeys: script.keys, lua: script.content });
    }
    return commands[name]!;
  }
}
