import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_EDIT_STRENGTH, FleetError, INTENTS, readConfig, TIERS, type FleetConfig, type GenerateRequestInput, type SourceImageInspector } from '../../contract/index.js';
import { createProducer } from '../../producer/index.js';
import { CommandFailure, integerOption, numberOption, withConnectionOptions, type ConnectionOptions } from '../common-options.js';
import { storeUrlOption } from '../option-parsers.js';

interface EnqueueOptions extends ConnectionOptions {
  prompt: string;
  intent?: GenerateRequestInput['intent'];
  text?: string;
  account: string;
  tier: 'free' | 'pro' | 'enterprise';
  width?: number;
  height?: number;
  seed?: number;
  format?: 'png' | 'webp';
  idempotencyKey?: string;
  source?: string;
  mask?: string;
  strength?: number;
  scale?: 2 | 4;
  steps?: number;
  negativePrompt?: string;
  wait?: number;
  /** The workers' store, where `--source` and `--mask` are read before enqueue. @default env FLEET_STORE */
  store: string;
}

/** Codes of a request refused for what it asks (exit 2), not for the fleet's state. */
const INPUT_ERRORS = new Set(['E_VALIDATION', 'E_SOURCE']);

/**
 * `fleet enqueue`: one request, for operators and smoke tests. Exits 2 when the request is invalid or its source
 * or mask is missing from the store or the wrong size (nothing is enqueued), 1 when Redis refuses it, the lane is
 * over its depth limit, the job fails or `--wait` runs out.
 */
export function enqueueCommand(): Command {
  const config = readConfig();
  return withConnectionOptions(new Command('enqueue'))
    .description('enqueue one request (and optionally wait for its result)')
    .requiredOption('--prompt <text>', 'what to draw')
    .addOption(new Option('--intent <intent>', 'what the request is for').choices(INTENTS))
    .option('--text <content>', 'text the typography lane draws and checks')
    .option('--account <id>', 'account id', 'operator')
    .addOption(new Option('--tier <tier>', 'account tier').choices(TIERS).default('pro'))
    .option('--width <px>', 'width', integerOption('width', 64, 2048))
    .option('--height <px>', 'height', integerOption('height', 64, 2048))
    .option('--seed <n>', 'seed', integerOption('seed', 0, 0xffffffff))
    .addOption(new Option('--format <format>', 'png | webp').choices(['png', 'webp']))
    .option('--idempotency-key <key>', 'the same key returns the same job')
    .option('--source <key>', 'upscale, edit: the stored image to upscale or edit (a key under the store prefix)')
    .option('--mask <key>', "edit: a stored mask of the source's size, white where the model repaints (default: the whole image)")
    .option('--strength <s>', `edit: the share of the denoising schedule that runs, over 0 and at most 1 (default: ${DEFAULT_EDIT_STRENGTH.withoutMask}, or ${DEFAULT_EDIT_STRENGTH.withMask} with a mask)`, anyNumber('strength'))
    .addOption(new Option('--scale <n>', 'upscale factor').choices(['2', '4']).argParser((v) => Number(v) as 2 | 4))
    .option('--steps <n>', 'denoising steps', integerOption('steps', 1, 100))
    .option('--negative-prompt <text>', 'what not to draw')
    .option('--wait <s>', 'wait up to S seconds for the result', numberOption('wait', 0, 3600))
    .option('--store <url>', "the workers' artifact store, where --source and --mask are read before enqueue (env FLEET_STORE)", storeUrlOption, config.storeUrl)
    .action(async (options: EnqueueOptions, command: Command) => {
      const request: GenerateRequestInput = {
        prompt: options.prompt,
        account: { id: options.account, tier: options.tier },
        ...(options.intent && { intent: options.intent }),
        ...(options.text && { text: { content: options.text } }),
        ...(options.width && { width: options.width }),
        ...(options.height && { height: options.height }),
        ...(options.seed !== undefined && { seed: options.seed }),
        ...(options.format && { format: options.format }),
        ...(options.idempotencyKey && { idempotencyKey: options.idempotencyKey }),
        ...(options.source !== undefined && { source: { key: options.source } }),
        ...(options.mask !== undefined && { mask: { key: options.mask } }),
        ...(options.strength !== undefined && { strength: options.strength }),
        ...(options.scale && { scale: options.scale }),
        ...(options.steps && { steps: options.steps }),
        ...(options.negativePrompt && { negativePrompt: options.negativePrompt }),
      };
      const sources = options.source === undefined ? undefined : await openSources(options.store, config);
      const producer = createProducer({ redis: options.redis, prefix: options.prefix, connectTimeoutMs: 3000, ...(sources && { sources: sources.inspector }) });
      try {
        const receipt = await producer.enqueue(request).catch((error: unknown) => {
          if (error instanceof FleetError && INPUT_ERRORS.has(error.code)) {
            command.error(`error: [${error.code}] ${error.message}${error.field ? ` (field ${error.field})` : ''}; nothing was enqueued`, { exitCode: 2 });
          }
          throw error;
        });
        if (!options.wait) {
          console.log(options.json ? JSON.stringify(receipt) : `${receipt.id} → ${receipt.lane}/${receipt.model} (policy v${receipt.policy.version} rule ${receipt.policy.rule})`);
          return;
        }
        const view = await producer.waitForResult(receipt.id, { timeoutMs: options.wait * 1000 });
        if (options.json) console.log(JSON.stringify(view));
        else if (view.state === 'completed') console.log(`${view.id} completed: ${view.result?.image.url} (${view.result?.timings.endToEndMs ?? '?'} ms)`);
        else console.log(`${view.id} failed: [${view.error?.code}] ${view.error?.message}`);
        if (view.state === 'failed') throw new CommandFailure(`job ${view.id} failed`);
      } finally {
        await producer.close();
        await sources?.close();
      }
    });
}

/** A number, its range left to the request schema, so that the bound and its message live in one place. */
function anyNumber(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** The store's source inspector, as the ingress has it; loaded only for a request with a source (it brings the workers' modules). */
async function openSources(storeUrl: string, config: FleetConfig): Promise<{ inspector: SourceImageInspector; close(): Promise<void> }> {
  const { createArtifactStore, storeSourceImageInspector } = await import('../../workers/index.js');
  const store = createArtifactStore(storeUrl, { ...(config.s3Endpoint ? { s3Endpoint: config.s3Endpoint } : {}), s3Region: config.s3Region });
  return { inspector: storeSourceImageInspector(store), close: () => store.close() };
}
