import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import ort from 'onnxruntime-node';
import { float32ToHalf, fromHalfBits, halfToFloat32, toHalfBits } from '../../workers/engine/half-float.js';
import { OnnxSessionFactory } from '../../workers/engine/onnx-session-factory.js';
import { OnnxGraphBuilder } from '../../scripts/onnx/onnx-graph-builder.js';

describe('half floats', () => {
  it('round to nearest even, keep subnormals, saturate to infinity', () => {
    assert.equal(toHalfBits(1), 0x3c00);
    assert.equal(toHalfBits(-2), 0xc000);
    assert.equal(toHalfBits(65504), 0x7bff);
    assert.equal(toHalfBits(65520), 0x7c00); // halfway to the next binade rounds to even: infinity
    assert.equal(toHalfBits(1e9), 0x7c00);
    assert.equal(toHalfBits(2 ** -24), 0x0001);
    assert.equal(toHalfBits(2 ** -26), 0x0000);
    assert.equal(toHalfBits(1 + 2 ** -11), 0x3c00); // tie, even mantissa stays
    assert.equal(toHalfBits(1 + 3 * 2 ** -11), 0x3c02); // tie, odd mantissa rounds up
    assert.ok(Number.isNaN(fromHalfBits(toHalfBits(NaN))));
    assert.equal(fromHalfBits(0x3555), 0.333251953125);
  });

  it('every half survives a round trip through float32', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = float32ToHalf(halfToFloat32(all));
    for (let i = 0; i < 65536; i++) {
      const isNaN = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
      if (!isNaN) assert.equal(back[i], i, `bits 0x${i.toString(16)}`);
    }
  });

  it('a mixed fp16/fp32 graph takes and gives float32 at the session boundary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fleet-fp16-'));
    try {
      const g = new OnnxGraphBuilder('mixed');
      const half = g.input('half_in', 'float16', [3]);
      const full = g.input('full_in', 'float32', [3]);
      const sum = g.op('Add', [half, g.op('Cast', [full], { to: 10 })]);
      g.op('Identity', [sum], {}, 'half_out');
      g.output('half_out', 'float16', [3]);
      g.op('Cast', [sum], { to: 1 }, 'full_out');
      g.output('full_out', 'float32', [3]);
      await writeFile(join(dir, 'model.onnx'), g.toBytes());
      const session = await new OnnxSessionFactory({ executionProvider: 'cpu' }).create(join(dir, 'model.onnx'));
      assert.equal(session.inputs.find((t) => t.name === 'half_in')!.type, 'float16');
      const out = await session.run({
        half_in: new ort.Tensor('float32', Float32Array.from([1, 0.1, -3]), [3]),
        full_in: new ort.Tensor('float32', Float32Array.from([0.5, 0.5, 1]), [3]),
      });
      assert.equal(out.half_out!.type, 'float32');
      assert.equal(out.full_out!.type, 'float32');
      const expected = [1.5, fromHalfBits(toHalfBits(fromHalfBits(toHalfBits(0.1)) + 0.5)), -2];
      assert.deepEqual([...(out.half_out!.data as Float32Array)], expected);
      assert.deepEqual([...(out.full_out!.data as Float32Array)], expected);
      await session.release();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
