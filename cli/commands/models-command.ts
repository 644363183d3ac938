import { Command } from 'commander';
import { readConfig } from '../../contract/index.js';
import { ModelRepository } from '../../workers/index.js';
import { modelReport, renderModelReports } from '../model-report.js';

interface ModelsOptions {
  models: string;
  json?: boolean;
}

/**
 * `fleet models`: for each folder of the model repository, what the loader derived from the export (family,
 * precision, scheduler, steps, sizes, weight bytes, lanes) and the contract check's verdict, so an operator knows
 * whether a dropped-in export will run before routing traffic to it. Exit 1 when any folder is refused.
 */
export function modelsCommand(): Command {
  const config = readConfig();
  return new Command('models')
    .description('what each model folder is (family, precision, scheduler, sizes, weights, lanes) and whether it will run')
    .option('--models <dir>', 'model repository (env FLEET_MODELS)', config.modelsDir)
    .option('--json', 'one JSON array of reports')
    .action(async (options: ModelsOptions) => {
      const repository = new ModelRepository(options.models);
      const reports = (await repository.survey()).map(modelReport);
      if (options.json) console.log(JSON.stringify(reports, null, 2));
      else console.log(reports.length === 0 ? `no models in ${repository.root}` : renderModelReports(reports));
      if (reports.some((r) => r.verdict !== 'ok')) process.exitCode = 1;
    });
}
