import { Command, CommanderError } from 'commander';
import { errorCodeOf } from '../contract/index.js';
import { CommandFailure, UsageError } from './common-options.js';
import { boardCommand } from './commands/board-command.js';
import { canaryCommand } from './commands/canary-command.js';
import { drainCommand, resumeCommand } from './commands/drain-command.js';
import { driftCommand } from './commands/drift-command.js';
import { enqueueCommand } from './commands/enqueue-command.js';
import { experimentCommand } from './commands/experiment-command.js';
import { ingressCommand } from './commands/ingress-command.js';
import { jobsCommand } from './commands/jobs-command.js';
import { modelsCommand } from './commands/models-command.js';
import { policyCommand } from './commands/policy-command.js';
import { replayCommand } from './commands/replay-command.js';
import { statusCommand } from './commands/status-command.js';
import { upCommand } from './commands/up-command.js';
import { watchCommand } from './commands/watch-command.js';
import { workerCommand } from './commands/worker-command.js';

// The AWS SDK prints a multi-line notice on Node < 22 about its releases after January 2027 at the first S3 client;
// an operator's stderr carries the fleet's own one-line errors. (The SDK reads this when a client is made.)
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * `fleet`: exit codes 0 ok, 1 failure, 2 usage (a bad option or environment value). Errors are one line on
 * stderr, `fleet: [E_CODE] message`, never a stack trace.
 */
function buildProgram(): Command {
  const program = new Command('fleet')
    .description('image-fleet: lanes, micro-batches and routing for image generation')
    .showHelpAfterError()
    .exitOverride();
  // One command per line, in `--help` order: a new command is a `…Command()` of its own file, appended here.
  for (const command of [
  upCommand(),
  ingressCommand(),
  workerCommand(),
  enqueueCommand(),
  statusCommand(),
  watchCommand(),
  drainCommand(),
  resumeCommand(),
  replayCommand(),
  jobsCommand(),
  modelsCommand(),
    policyCommand(),
    boardCommand(),
    driftCommand(),
    canaryCommand(),
    experimentCommand(),
  ]) {
    program.addCommand(command);
  }
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

// `fleet … | head` closes the pipe early: that is not a failure.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

try {
  // Building the commands reads the environment (their defaults), so a bad value is caught here too.
  await buildProgram().parseAsync(process.argv);
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
