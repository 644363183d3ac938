import { Command, CommanderError, Help, type Option } from 'commander';
import { errorCodeOf } from '../contract/index.js';
import { CommandFailure, UsageError } from './common-options.js';

// The AWS SDK prints a multi-line notice on Node < 22 about its releases after January 2027 at the first S3 client;
// an operator's stderr carries the fleet's own one-line errors. (The SDK reads this when a client is made.)
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * Every command, in `--help` order, each loaded only when needed: a command's module brings its dependencies
 * (BullMQ, fastify, onnxruntime, sharp, the AWS SDK), and loading all of them for every run made a one-line
 * answer cost seconds of CPU. A new command is a `…Command()` of its own file, appended here.
 */
const COMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<Command>]> = [
  ['up', async () => (await import('./commands/up-command.js')).upCommand()],
  ['ingress', async () => (await import('./commands/ingress-command.js')).ingressCommand()],
  ['worker', async () => (await import('./commands/worker-command.js')).workerCommand()],
  ['enqueue', async () => (await import('./commands/enqueue-command.js')).enqueueCommand()],
  ['status', async () => (await import('./commands/status-command.js')).statusCommand()],
  ['watch', async () => (await import('./commands/watch-command.js')).watchCommand()],
  ['drain', async () => (await import('./commands/drain-command.js')).drainCommand()],
  ['resume', async () => (await import('./commands/drain-command.js')).resumeCommand()],
  ['replay', async () => (await import('./commands/replay-command.js')).replayCommand()],
  ['jobs', async () => (await import('./commands/jobs-command.js')).jobsCommand()],
  ['models', async () => (await import('./commands/models-command.js')).modelsCommand()],
  ['policy', async () => (await import('./commands/policy-command.js')).policyCommand()],
  ['board', async () => (await import('./commands/board-command.js')).boardCommand()],
  ['drift', async () => (await import('./commands/drift-command.js')).driftCommand()],
  ['canary', async () => (await import('./commands/canary-command.js')).canaryCommand()],
  ['experiment', async () => (await import('./commands/experiment-command.js')).experimentCommand()],
];

/**
 * `fleet`: exit codes 0 ok, 1 failure, 2 usage (a bad option or environment value). Errors are one line on
 * stderr, `fleet: [E_CODE] message`, never a stack trace.
 *
 * `argv`'s first word picks the one command to build; anything else (no command, `help`, `--help`, a misspelt
 * name) builds them all, for the full help and commander's "did you mean".
 */
async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('fleet')
    .description('image-fleet: lanes, micro-batches and routing for image generation')
    .showHelpAfterError()
    .exitOverride();
  const named = COMMANDS.filter(([name]) => name === argv[2]);
  for (const [, load] of named.length === 1 ? named : COMMANDS) program.addCommand(await load());
  for (const command of program.commands) {
    for (const each of [command, ...command.commands]) each.exitOverride().configureHelp(HELP);
  }
  return program;
}

/** Commander's help says nothing of a required option until it is missing: `--help` says it. */
const HELP: Partial<Help> = {
  optionDescription(this: Help, option: Option): string {
    const text = Help.prototype.optionDescription.call(this, option);
    return option.mandatory ? `${text} (required)` : text;
  },
};

// `fleet … | head` closes the pipe early: that is not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  // Building the commands reads the environment (their defaults), so a bad value is caught here too.
  await (await buildProgram(process.argv)).parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2);
  }
  if (error instanceof CommandFailure) {
    console.error(`fleet: ${error.message}`);
    process.exit(1);
  }
  const code = errorCodeOf(error);
  const named = (error as { code?: unknown }).code;
  const prefix = typeof named === 'string' && /^E_[A-Z_]+$/.test(named) ? `[${named}] ` : code === 'E_INTERNAL' ? '' : `[${code}] `;
  console.error(`fleet: ${prefix}${oneLine(error)}`);
  process.exit(error instanceof UsageError || code === 'E_CONFIG' ? 2 : 1);
}

function oneLine(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0]!;
}
