#!/usr/bin/env bash
# The GPU check, in two halves (docs/gpu.md):
#   scripts/gpu-check.sh prepare   here (no GPU needed): builds the test binaries the check runs
#                                  and copies them, stripped, into gpu-carry/ (git-ignored);
#   scripts/gpu-check.sh run       on the GPU machine, from the repository root, with gpu-carry/
#                                  carried (the device tool's `carry: ["gpu-carry"]`): runs them
#                                  with CUDA required, and writes the log under $OUT.
# So far it runs the CUDA-vs-CPU kernel tests (kernels/tests/cuda.rs: pack and unpack in every
# format, colorimetry and tensor spec, on fresh random inputs, bit for bit). The aiupscale
# pipeline on CUDA and the SRVGGNetCompact benchmark join it when the elements have a CUDA path.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARRY="$ROOT/gpu-carry"

case "${1:-}" in
prepare)
  cd "$ROOT"
  grep -qx '/gpu-carry/' .git/info/exclude 2>/dev/null || echo '/gpu-carry/' >> .git/info/exclude
  rm -rf "$CARRY" && mkdir -p "$CARRY"
  bin=$(cargo test --release -p gst-ai-kernels --test cuda --no-run --message-format=json 2>/dev/null |
        python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "cuda":
        print(m["executable"])')
  cp "$bin" "$CARRY/kernels-cuda" && strip "$CARRY/kernels-cuda"
  du -sh "$CARRY"/*
  ;;
run)
  OUT="${OUT:-$ROOT/out/gpu-check}"
  mkdir -p "$OUT"
  # NVRTC from the toolkit there (CUDA 13); libcuda comes with the driver.
  toolkit=$(ls -d /usr/local/cuda*/lib64 2>/dev/null | head -1 || true)
  export LD_LIBRARY_PATH="${toolkit}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export GST_AI_REQUIRE_NVRTC=1 GST_AI_REQUIRE_CUDA=1
  command -v nvidia-smi >/dev/null || { echo "no nvidia-smi here: run this on the GPU machine" >&2; exit 1; }
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/device.txt"
  status=0
  "$CARRY/kernels-cuda" --nocapture --test-threads=1 2>&1 | tee "$OUT/kernels-cuda.log" || status=$?
  echo "kernels-cuda exit $status" | tee -a "$OUT/summary.txt"
  exit $status
  ;;
*)
  echo "usage: $0 prepare|run" >&2
  exit 2
  ;;
esac
