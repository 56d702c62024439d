#!/usr/bin/env bash
# One-time setup: the engine's virtual environment, the glTF validator, then the demo.
# Usage: bash scripts/setup.sh [--no-demo]
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian's blender and Xvfb for the real-window test (tests/addon/test_gui_blender.py), which CI
# must run, not skip. Root only; elsewhere this is left to the user (docs/BLENDER.md).
apt_pkgs=""
command -v blender >/dev/null || apt_pkgs="$apt_pkgs blender"
command -v xvfb-run >/dev/null || apt_pkgs="$apt_pkgs xvfb"
command -v xauth >/dev/null || apt_pkgs="$apt_pkgs xauth"
if [ -n "$apt_pkgs" ] && [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  t0=$(date +%s)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $apt_pkgs; } \
      >/tmp/s3d_setup_apt.log 2>&1; then
    echo "apt-get install$apt_pkgs failed:"; tail -20 /tmp/s3d_setup_apt.log; exit 1
  fi
  echo "installed$apt_pkgs in $(( $(date +%s) - t0 )) s"
fi
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
