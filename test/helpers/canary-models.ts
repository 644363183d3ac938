// Real models for the canary and experiment tests: small export-shaped folders (scripts/onnx/exports/) with toy
// weights, rendered at 64² in one step so a job takes milliseconds, and a "poisoned" copy whose text encoder
// fails inside onnxruntime for prompts holding some tokens — a real run failing, as an export with a broken
// embedding row would, not a stub.
import { readFile, writeFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { loadClipTokenizer } from '../../workers/pipelines/clip-tokenizer.js';
import { writeExport } from '../../scripts/onnx/exports/write-export.js';
import type { DenoiserLook, ExportSpec } from '../../scripts/onnx/exports/export-spec.js';
import { MODEL_CATALOG } from '../../scripts/onnx/model-catalog.js';

const { onnx } = onnxProto;

/** A flash-lane LCM export shaped as the shipped flash-v2 (SD 1.5-shaped, Optimum ≤ 1.23), with its own look, allowed from 64². */
export function smallFlashSpec(weightSeed: number, costUnitsPerImage = 1, lanes: string[] = ['flash']): ExportSpec {
  const shipped = MODEL_CATALOG.find((entry) => entry.name === 'flash-v2')!.spec;
  const look = shipped.target as DenoiserLook;
  return {
    ...shipped,
    target: { ...look, bandFrequency: 1 + (weightSeed % 7) / 5 },
    weightSeed,
    withVaeEncoder: false,
    manifest: { schemaVersion: 1, lanes, sizes: { min: 64, max: 256, multipleOf: 64 }, defaultSteps: 1, maxSteps: 4, residentBytes: 1e6, activationBytesPerMegapixel: 1e6, costUnitsPerImage },
  };
}

export async function writeSmallFlashModel(modelsDir: string, name: string, weightSeed: number, costUnitsPerImage = 1, lanes: string[] = ['flash']): Promise<string> {
  const dir = join(modelsDir, name);
  await writeExport(smallFlashSpec(weightSeed, costUnitsPerImage, lanes), dir);
  return dir;
}

/**
 * Copies the export at `from` to `to` with its text encoder made to fail on the tokens of `poisonText` that none
 * of `cleanPrompts` holds: the ids go through a lookup table whose poisoned rows index past the end of a
 * one-element tensor, and onnxruntime refuses that Gather at run time. The guard's value (0) is added to
 * `last_hidden_state`, so the node stays in the graph and clean prompts render as before. Returns the poisoned ids.
 */
export async function writePoisonedCopy(from: string, to: string, poisonText: string, cleanPrompts: readonly string[]): Promise<number[]> {
  await cp(from, to, { recursive: true });
  const tokenizer = await loadClipTokenizer(join(to, 'tokenizer'));
  const clean = new Set(cleanPrompts.flatMap((p) => tokenizer.encode([p])));
  const poisoned = [...new Set(tokenizer.encode([poisonText]))].filter((id) => !clean.has(id));
  if (poisoned.length === 0) throw new Error(`every token of ${JSON.stringify(poisonText)} is also in a clean prompt: choose another`);

  const path = join(to, 'text_encoder', 'model.onnx');
  const model = onnx.ModelProto.decode(await readFile(path));
  const graph = model.graph!;
  const vocabSize = Number(graph.initializer!.find((t) => t.name?.includes('token_embedding'))?.dims?.[0] ?? 0) || 1 + Math.max(...tokenizer.encode([poisonText]), ...clean);
  const table = new Array<number>(vocabSize).fill(0);
  for (const id of poisoned) table[id] = 1000;
  const producer = graph.node!.find((n) => n.output?.includes('last_hidden_state'))!;
  producer.output = producer.output!.map((o) => (o === 'last_hidden_state' ? 'last_hidden_state_unguarded' : o));
  const I64 = onnx.TensorProto.DataType.INT64;
  graph.initializer!.push(
    { name: 'poison_table', dims: [vocabSize], dataType: I64, int64Data: table },
    { name: 'guard_value', dims: [1], dataType: onnx.TensorProto.DataType.FLOAT, floatData: [0] },
  );
  graph.node!.push(
    { opType: 'Gather', input: ['poison_table', 'input_ids'], output: ['poison_rows'], name: 'poison_rows', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    { opType: 'ReduceMax', input: ['poison_rows'], output: ['poison_index'], name: 'poison_index', attribute: [{ name: 'keepdims', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    { opType: 'Gather', input: ['guard_value', 'poison_index'], output: ['guard'], name: 'guard', attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: 0 }] },
    { opType: 'Add', input: ['last_hidden_state_unguarded', 'guard'], output: ['last_hidden_state'], name: 'guarded_last_hidden_state' },
  );
  await writeFile(path, onnx.ModelProto.encode(model).finish());
  return poisoned;
}
