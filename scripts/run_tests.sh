#!/usr/bin/env bash
# The project's test command: engine tests in .venv, then the Blender add-on tests against
# the real bpy wheels (each in its own venv, created on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pytest -q tests "$@"
if [ -f scripts/ci_addon.sh ] && [ "${S3D_SKIP_BLENDER:-0}" != "1" ]; then
  bash scripts/ci_addon.sh
fi
