#!/usr/bin/env bash
# scripts/gpu-check.sh [--gpu N] [--models DIR] [--images N] [--rounds N]
# For a person with a CUDA machine, after `ONNXRUNTIME_NODE_INSTALL=cuda12 npm install --allow-scripts=onnxruntime-node`: the provider each model
# runs on, images/s of the raw onnxruntime loop against the fleet at batch 1 and 4, the peak of the device's
# memory against the worker's budget, and the event-loop delay of each. Needs the Redis at REDIS_URL. Without an
# NVIDIA driver or without onnxruntime-node's CUDA provider it says so and exits 2. See README "Workers".
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "gpu-check: nvidia-smi is not on the PATH: this check needs an NVIDIA GPU and its driver." >&2
  exit 2
fi
if [ ! -f models/flash-v1/manifest.json ]; then npm run -s build:models; fi
exec node --import tsx scripts/gpu-check.ts "$@"
