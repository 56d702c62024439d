#!/usr/bin/env bash
# One-time setup: the engine's virtual environment, the glTF validator, then the demo.
# Usage: bash scripts/setup.sh [--no-demo]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# torch 2.14.1 is served from this machine's local wheel store; any torch >= 2.1 works.
.venv/bin/python -m pip install -q "torch==2.14.1" 2>&1 | grep -v -i "warning" || true
.venv/bin/python -m pip install -q -e ".[tests]" 2>&1 | grep -v -i "warning" || true
.venv/bin/python -c "import torch, s3d_engine; print('engine', s3d_engine.__version__, 'torch', torch.__version__)"
if command -v npm >/dev/null; then
  npm install --prefix .tools --no-audit --no-fund --silent gltf-validator@2.0.0-dev.3.10 >/dev/null
fi
if [ "${1:-}" != "--no-demo" ]; then
  bash scripts/demo.sh
fi
