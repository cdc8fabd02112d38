#!/usr/bin/env bash
# Run every benchmark under bench/ (each a *.bench.ts that starts what it needs and stops by itself).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
benches=(bench/*.bench.ts bench/*/*.bench.ts)
if [ ${#benches[@]} -eq 0 ]; then echo "no benchmarks yet under bench/"; exit 0; fi
for b in "${benches[@]}"; do
  echo "== $b"
  node --import tsx --expose-gc "$b"
done
