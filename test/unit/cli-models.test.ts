import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildModels } from '../../scripts/build-models.js';
import type { ModelReport } from '../../cli/model-report.js';
import { runFleet } from '../helpers/fleet-cli.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');

describe('fleet models: what the loader derived from each folder, and whether it will run', () => {
  let broken: string;
  before(async () => {
    await buildModels({ outDir: MODELS });
    broken = await mkdtemp(join(tmpdir(), 'fleet-models-cli-'));
    await cp(join(MODELS, 'typography-v1'), join(broken, 'typography-v1'), { recursive: true });
    await writeFile(join(broken, 'typography-v1', 'model_index.json'), JSON.stringify({ _class_name: 'KandinskyPipeline' }));
    await cp(join(MODELS, 'flash-v2'), join(broken, 'my-lcm'), { recursive: true });
    await rm(join(broken, 'my-lcm', 'manifest.json'));
  });
  after(() => rm(broken, { recursive: true, force: true }));

  it('reports the shipped folder: families, precision, scheduler, steps, lanes; exit 0', async () => {
    const run = await runFleet(['models', '--models', MODELS, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const reports = JSON.parse(run.stdout) as ModelReport[];
    const byName = new Map(reports.map((r) => [r.name, r]));
    assert.deepEqual(
      ['flash-v1', 'large-v1', 'typography-v1'].map((n) => [byName.get(n)?.family, byName.get(n)?.verdict]),
      [['sd3', 'ok'], ['sd3', 'ok'], ['sdxl', 'ok']],
    );
    const flash = byName.get('flash-v1')!;
    assert.deepEqual([flash.precision, flash.scheduler, flash.defaultSteps, flash.guidanceScale, flash.lanes], ['fp16', 'FlowMatchEulerDiscreteScheduler', 4, 0, ['flash']]);
    assert.equal(byName.get('upscale-x2')?.kind, 'upscale');
    const table = await runFleet(['models', '--models', MODELS]);
    assert.equal(table.code, 0);
    for (const line of table.stdout.split('\n')) assert.ok([...line].length <= 100, `wider than 100 columns: ${line}`);
    assert.match(table.stdout, /flash-v1 +│ SD3 fp16 +│ flow Euler/);
  });

  it('reports a broken folder with its code and the file at fault, serves a bare export by its folder name; exit 1', async () => {
    const run = await runFleet(['models', '--models', broken, '--json']);
    assert.equal(run.code, 1);
    const reports = JSON.parse(run.stdout) as ModelReport[];
    const bad = reports.find((r) => r.name === 'typography-v1')!;
    assert.equal(bad.verdict, 'E_MODEL_SHAPE');
    assert.match(bad.problem!, /_class_name "KandinskyPipeline" is not a pipeline the fleet runs/);
    assert.match(bad.file!, /typography-v1[/\\]model_index\.json$/);
    const bare = reports.find((r) => r.name === 'my-lcm')!;
    assert.deepEqual([bare.verdict, bare.scheduler, bare.lanes], ['ok', 'LCMScheduler', ['flash', 'large', 'typography']]);
    const table = await runFleet(['models', '--models', broken]);
    assert.match(table.stdout, /typography-v1: E_MODEL_SHAPE .*KandinskyPipeline/);
  });
});
