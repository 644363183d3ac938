import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isCudaAvailable } from '../../workers/engine/cuda-availability.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

// This workplace has no GPU: what can be checked here is that the check says so clearly instead of failing obscurely.
test('gpu-check exits 2 with a clear message where there is no NVIDIA driver or no CUDA provider', { skip: isCudaAvailable() && 'a CUDA provider is installed here' }, () => {
  const script = spawnSync('bash', ['scripts/gpu-check.sh'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: '/usr/bin:/bin' } });
  assert.equal(script.status, 2, script.stderr);
  assert.match(script.stderr, /gpu-check: (nvidia-smi is not on the PATH|this onnxruntime-node has no usable CUDA provider)/);
  const direct = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/gpu-check.ts'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(direct.status, 2, direct.stderr);
  assert.match(direct.stderr, /no usable CUDA provider[\s\S]*ONNXRUNTIME_NODE_INSTALL=cuda12 npm install --allow-scripts=onnxruntime-node/);
});
