#!/usr/bin/env bash
# Demo: the example sketches through the engine, on the shipped weights when present.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/demo}
for domain in face cat; do
  if [ -f "weights/$domain.safetensors" ]; then
    model=(--weights "$domain")
  else
    echo "note: no trained weights/$domain.safetensors yet: running on randomly initialised 'small' weights"
    model=(--random-init small)
  fi
  .venv/bin/s3d generate "examples/${domain}_sketch.png" -o "$out/$domain" --domain "$domain" "${model[@]}" \
    --mesh-res 128 --frames 8
done
echo "demo outputs in $out/"
