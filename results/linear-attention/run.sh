#!/usr/bin/env bash
# Evaluation speed and peak memory against T, softmax vs causal linear attention (NoPE), at the
# quick size (4 layers, d_model 128, 4 heads, L = 128), fp32, one process per point; then the
# training speed at L of both. Writes bench.jsonl beside this script.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=results/linear-attention/bench.jsonl
: > "$out"
for attention in softmax linear; do
  for T in 128 256 512 1024 2048 4096 8192; do
    build/lengthbench bench --encoding nope --attention "$attention" --precision fp32 --eval-only --eval-length "$T" | grep "^{" >> "$out"
  done
  build/lengthbench bench --encoding nope --attention "$attention" --precision fp32 --steps 20 --warmup 3 | grep "^{" >> "$out"
done
