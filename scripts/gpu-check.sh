#!/usr/bin/env bash
# The GPU check (docs/gpu.md). Here, without a GPU:
#   scripts/gpu-check.sh prepare        builds what the GPU run needs into gpu-carry/ (git-ignored),
#                                       stripped, and checks it fits one call's carry (64 MiB);
#   scripts/gpu-check.sh prepare-ort [--stand-in FILE]
#                                       (optional) the onnxruntime-gpu wheel (CUDA provider,
#                                       ~300 MB), split into parts of 60 MB under gpu-ort/ with
#                                       their SHA-256 sums; a stand-in file instead, to try the plan;
#   scripts/gpu-check.sh run --dry-run  the run below on this machine, with the CPU shim standing in
#                                       for the GPU: proves the script's logic, every step's output
#                                       and the summary (figures meaningless).
# On the GPU machine (the device tool's `run`, from the repository root):
#   scripts/gpu-check.sh stage-ort K    with carry ["gpu-ort/part-K", "gpu-ort/SHA256SUMS",
#                                       "gpu-ort/NAME"]: keeps
#                                       part K in $GST_AI_ORT_STAGE (default /tmp/gst-ai-ort); one
#                                       call per part, calls back to back while the machine is warm;
#   scripts/gpu-check.sh run            with carry ["gpu-carry"]: in one call of under 8 minutes
#                                       (each step under `timeout`, all of them within a budget
#                                       of GST_AI_CHECK_BUDGET_S, 480 s), every figure into $OUT:
#     1. device.txt        nvidia-smi's name, driver, memory;
#     2. kernels-cuda.log  the CUDA-vs-CPU kernel tests (kernels/tests/cuda.rs), CUDA required:
#                          pack, unpack, resize, tile merging, bit for bit, fresh random inputs;
#     3. bandwidth.md      every kernel on 1080p work against a device-to-device copy
#                          (kernels/examples/cuda_bench.rs);
#     4. elements.md       aiupscale and aistylize on CUDA against the CPU (run after 6, on the
#                          staged onnxruntime-gpu): the elements' frame chains (the runtime's
#                          engines; no GStreamer there) on the same moving frames, the largest byte
#                          difference and each side's fps (plugins/runtime/examples/
#                          device_chain_bench.rs), and the chain tests (tests/device_chain.rs,
#                          CUDA required) in elements-tests.log;
#     5. srvgg.md          SRVGGNetCompact x2 through a bare ONNX Runtime session with the CUDA
#                          provider (host and I/O-bound), when all parts of the wheel are staged;
#                          srvgg-element.md: the same fp32 model at 960x540 -> 1080p through
#                          aiupscale's chain on CUDA (device_chain_bench --sr-model), whole and
#                          tiled, against the CPU chain;
#     6. io-binding.log    our own I/O binding path (plugins/runtime backend::cuda_io, test
#                          tests/cuda_io.rs) on the staged wheel's libonnxruntime.so: the built-in
#                          x2 model on device buffers against the CPU;
#     7. interpolate.log   aiinterpolate's built-in flow on CUDA (optical flow and interpolation
#                          kernels, no ONNX Runtime provider needed): the frame-rate converter
#                          (the element's engine) made frames equal to the CPU's byte for byte,
#                          RGB and I420 (plugins/runtime/tests/flow_engine.rs, CUDA required); the
#                          per-frame time against the CPU's is in bandwidth.md;
#     summary.txt          one line per step: passed, failed or skipped, and why.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CARRY="$ROOT/gpu-carry"
ORT_PARTS="$ROOT/gpu-ort"
ORT_STAGE="${GST_AI_ORT_STAGE:-/tmp/gst-ai-ort}"
ORT_GPU_VERSION=1.31.1
CARRY_LIMIT=$((64 * 1024 * 1024))
PART_BYTES=$((60 * 1000 * 1000))

# The whole run's budget: every step's time limit is capped by what is left of it, so the call
# ends (summary written) inside the device tool's 10 minutes even when steps hang.
BUDGET_S="${GST_AI_CHECK_BUDGET_S:-480}"
DEADLINE=$((SECONDS + BUDGET_S))
# A step's time limit: N seconds, or what is left of the budget (at least 5).
within() {
  local left=$((DEADLINE - SECONDS))
  [ "$left" -lt "$1" ] && { [ "$left" -lt 5 ] && left=5; echo "$left"; return; }
  echo "$1"
}

# The executable cargo built for a target, from its JSON messages on stdin.
executable() {
  python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$1"
}

prepare() {
  cd "$ROOT"
  # gpu-carry/ and gpu-ort/ are in .gitignore: the device tool carries ignored paths named in `carry`.
  rm -rf "$CARRY" && mkdir -p "$CARRY"
  local test bench io chain chain_bench flow
  test=$(cargo test --release -p gst-ai-kernels --test cuda --no-run --message-format=json 2>/dev/null | executable cuda)
  bench=$(cargo build --release -p gst-ai-kernels --example cuda_bench --message-format=json 2>/dev/null | executable cuda_bench)
  io=$(cargo test --release -p gst-ai-runtime --test cuda_io --no-run --message-format=json 2>/dev/null | executable cuda_io)
  chain=$(cargo test --release -p gst-ai-runtime --test device_chain --no-run --message-format=json 2>/dev/null | executable device_chain)
  chain_bench=$(cargo build --release -p gst-ai-runtime --example device_chain_bench --message-format=json 2>/dev/null |
    executable device_chain_bench)
  flow=$(cargo test --release -p gst-ai-runtime --test flow_engine --no-run --message-format=json 2>/dev/null | executable flow_engine)
  [ -x "$test" ] && [ -x "$bench" ] && [ -x "$io" ] && [ -x "$chain" ] && [ -x "$chain_bench" ] && [ -x "$flow" ] ||
    { echo "prepare: a build failed (run the cargo commands above)" >&2; exit 1; }
  cp "$test" "$CARRY/kernels-cuda" && cp "$bench" "$CARRY/cuda-bench" && cp "$io" "$CARRY/runtime-cuda-io"
  cp "$chain" "$CARRY/runtime-device-chain" && cp "$chain_bench" "$CARRY/device-chain-bench"
  cp "$flow" "$CARRY/runtime-flow-engine"
  strip "$CARRY"/*
  local total; total=$(du -cb "$CARRY"/* | tail -1 | cut -f1)
  du -b "$CARRY"/*
  echo "gpu-carry: $total bytes (carry limit $CARRY_LIMIT)"
  [ "$total" -lt "$CARRY_LIMIT" ] || { echo "prepare: gpu-carry is over the carry limit" >&2; exit 1; }
}

prepare_ort() {
  cd "$ROOT"
  rm -rf "$ORT_PARTS" && mkdir -p "$ORT_PARTS"
  local wheel
  if [ "${1:-}" = "--stand-in" ]; then
    wheel="$2"
  else
    # The GPU machine has Python 3.12 (docs/gpu.md): the wheel for it, whatever Python is here.
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_28_x86_64 -d "$ORT_PARTS/wheel" "onnxruntime-gpu==$ORT_GPU_VERSION"
    wheel=$(ls "$ORT_PARTS"/wheel/*.whl)
  fi
  echo "$(basename "$wheel")" > "$ORT_PARTS/NAME"
  split -b "$PART_BYTES" -d -a 2 "$wheel" "$ORT_PARTS/part-"
  # The whole wheel's sum before the downloaded copy goes (only the parts are carried).
  (cd "$ORT_PARTS" && sha256sum part-* > SHA256SUMS && sha256sum "$wheel" | sed "s|  .*|  whole|" >> SHA256SUMS)
  rm -rf "$ORT_PARTS/wheel"
  ls -l "$ORT_PARTS"
  local n; n=$(ls "$ORT_PARTS"/part-* | wc -l)
  echo "stage them on the GPU machine, one call each, back to back:"
  for p in "$ORT_PARTS"/part-*; do
    echo "  run: scripts/gpu-check.sh stage-ort ${p##*-}   carry: [\"gpu-ort/${p##*/}\", \"gpu-ort/SHA256SUMS\", \"gpu-ort/NAME\"]"
  done
  echo "then: scripts/gpu-check.sh run   carry: [\"gpu-carry\"]   ($n parts)"
}

stage_ort() {
  local k="$1" part="$ORT_PARTS/part-$1"
  [ -f "$part" ] || { echo "stage-ort: $part was not carried" >&2; exit 1; }
  mkdir -p "$ORT_STAGE"
  cp "$ORT_PARTS/SHA256SUMS" "$ORT_PARTS/NAME" "$ORT_STAGE/"
  (cd "$ORT_PARTS" && grep " part-$k\$" SHA256SUMS | sha256sum -c --quiet) || { echo "stage-ort: part $k is corrupt" >&2; exit 1; }
  cp "$part" "$ORT_STAGE/"
  echo "staged in $ORT_STAGE: $(cd "$ORT_STAGE" && ls part-* | tr '\n' ' ')"
}

# Joins the staged parts and installs the wheel (no network: from the file, no dependencies)
# into $ORT_STAGE/py. Prints why not, and fails, when a part is missing or corrupt.
install_ort() {
  [ -f "$ORT_STAGE/SHA256SUMS" ] || { echo "no onnxruntime-gpu parts staged in $ORT_STAGE (scripts/gpu-check.sh prepare-ort, stage-ort)"; return 1; }
  local missing; missing=$(cd "$ORT_STAGE" && grep ' part-' SHA256SUMS | sed 's/.* //' | while read -r p; do [ -f "$p" ] || echo "$p"; done)
  [ -z "$missing" ] || { echo "onnxruntime-gpu parts not staged: $missing"; return 1; }
  (cd "$ORT_STAGE" && grep ' part-' SHA256SUMS | sha256sum -c --quiet) || { echo "a staged part is corrupt"; return 1; }
  local wheel; wheel="$ORT_STAGE/$(cat "$ORT_STAGE/NAME")"
  timeout "$(within 60)" cat "$ORT_STAGE"/part-* > "$wheel" || { echo "joining the parts failed or ran out of time"; return 1; }
  (cd "$ORT_STAGE" && echo "$(grep '  whole$' SHA256SUMS | cut -d' ' -f1)  $wheel" | sha256sum -c --quiet) || { echo "the joined wheel is corrupt"; return 1; }
  timeout "$(within 120)" python3 -m pip install --quiet --no-deps --no-index --target "$ORT_STAGE/py" "$wheel" ||
    { echo "pip cannot install $wheel (or ran out of time)"; return 1; }
  echo "onnxruntime-gpu installed into $ORT_STAGE/py"
}

run() {
  local dry=0; [ "${1:-}" = "--dry-run" ] && dry=1
  OUT="${OUT:-$ROOT/out/gpu-check}"
  mkdir -p "$OUT"
  : > "$OUT/summary.txt"
  local status=0
  step() { echo "$1: $2" | tee -a "$OUT/summary.txt"; }
  # NVRTC from the toolkit there (CUDA 13); libcuda comes with the driver.
  local toolkit; toolkit=$(ls -d /usr/local/cuda*/lib64 2>/dev/null | head -1 || true)
  export LD_LIBRARY_PATH="${toolkit}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  if [ $dry = 1 ]; then
    step mode "DRY RUN on $(hostname): the CPU shim stands in for the GPU; figures are meaningless"
  else
    export GST_AI_REQUIRE_NVRTC=1 GST_AI_REQUIRE_CUDA=1
    command -v nvidia-smi >/dev/null || { echo "no nvidia-smi here: run this on the GPU machine (or --dry-run)" >&2; exit 1; }
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/device.txt"
    step device "$(tail -1 "$OUT/device.txt")"
  fi
  [ -x "$CARRY/kernels-cuda" ] || { echo "no $CARRY/kernels-cuda: run scripts/gpu-check.sh prepare here and carry gpu-carry" >&2; exit 1; }

  # 2. The kernel tests: on the GPU with CUDA required; in a dry run they skip (no device).
  local rc=0
  timeout "$(within 240)" "$CARRY/kernels-cuda" --test-threads=1 --nocapture > "$OUT/kernels-cuda.log" 2>&1 || rc=$?
  if [ $rc = 0 ]; then
    step kernels "passed: $(grep -E 'cases.* equal|kernels compiled' "$OUT/kernels-cuda.log" | tr '\n' ';')"
  else
    step kernels "FAILED (exit $rc): see kernels-cuda.log"; status=1
  fi
  [ $dry = 1 ] && grep -q "skipped" "$OUT/kernels-cuda.log" && step kernels "(dry run: the GPU tests skipped, as they must without a device)"

  # 3. Bandwidth.
  local shim=(); [ $dry = 1 ] && shim=(--shim --reps 2)
  rc=0
  timeout "$(within 120)" "$CARRY/cuda-bench" "${shim[@]}" --out "$OUT/bandwidth.md" > "$OUT/bandwidth.log" 2>&1 || rc=$?
  if [ $rc = 0 ]; then step bandwidth "measured: bandwidth.md"; else step bandwidth "FAILED (exit $rc): see bandwidth.log"; status=1; fi

  # 7. aiinterpolate's flow on CUDA: the converter's frames against the CPU's. On the GPU only
  # the GPU test (the shim's needs a C++ compiler; CI runs it); in a dry run both, the GPU one
  # skipping.
  if [ ! -x "$CARRY/runtime-flow-engine" ]; then
    step interpolate "skipped: no $CARRY/runtime-flow-engine (scripts/gpu-check.sh prepare)"
  else
    rc=0
    filter=(on_a_gpu); [ $dry = 1 ] && filter=()
    timeout "$(within 90)" "$CARRY/runtime-flow-engine" --test-threads=1 --nocapture "${filter[@]}" > "$OUT/interpolate.log" 2>&1 || rc=$?
    # A filter that matches nothing runs 0 tests and exits 0: that is no pass.
    grep -qE '^test result: ok\. [1-9]' "$OUT/interpolate.log" || [ $rc != 0 ] || rc=99
    if [ $rc = 0 ]; then
      step interpolate "passed: $(grep -E 'frames equal|skipped' "$OUT/interpolate.log" | tr '\n' ';')"
    else
      step interpolate "FAILED (exit $rc): see interpolate.log"; status=1
    fi
  fi

  # 5. SRVGGNetCompact x2 through ONNX Runtime's CUDA provider, if it was staged.
  local why provider=cuda py=python3
  if [ $dry = 1 ]; then provider=cpu; fi
  if why=$(install_ort 2>&1); then
    export PYTHONPATH="$ORT_STAGE/py${PYTHONPATH:+:$PYTHONPATH}"
    # cuBLAS and cuDNN for CUDA 13 from the Python packages there, the rest from the toolkit.
    local nv; nv=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]))' 2>/dev/null || true)
    [ -n "$nv" ] && export LD_LIBRARY_PATH="$(ls -d "$nv"/nvidia/*/lib 2>/dev/null | tr '\n' ':')$LD_LIBRARY_PATH"
  elif [ $dry = 0 ]; then
    step srvgg "skipped: $why"; provider=""
  else
    step srvgg "(dry run: $why; the CPU provider stands in)"
  fi
  if [ -n "$provider" ]; then
    local sizes=960x540,1920x1080 frames=20
    [ $dry = 1 ] && sizes=64x36 && frames=2
    rc=0
    { timeout "$(within 60)" $py models/make_srvgg_bench.py "$OUT/models" &&
      timeout "$(within 180)" $py models/bench_srvgg.py --models "$OUT/models" --out "$OUT/srvgg.md" --provider $provider \
        --sizes $sizes --frames $frames; } > "$OUT/srvgg.log" 2>&1 || rc=$?
    # The same SRVGGNetCompact x2 (fp32) through aiupscale's chain: the element's side of the
    # element-vs-bare-session comparison (on the GPU with the CUDA session; in a dry run on the shim).
    local erc=0
    if [ $rc = 0 ] && [ -x "$CARRY/device-chain-bench" ]; then
      local eargs=(--frames 5 --size 960x540); [ $dry = 1 ] && eargs=(--shim --frames 2 --size 64x36)
      (
        if [ $dry = 0 ]; then export GST_AI_ORT_LIB="$ORT_STAGE/py/onnxruntime/capi/libonnxruntime.so.$ORT_GPU_VERSION"; fi
        timeout "$(within 120)" "$CARRY/device-chain-bench" "${eargs[@]}" --sr-model "$OUT/models/srvgg_x2_bench_fp32.onnx" \
          --out "$OUT/srvgg-element.md"
      ) > "$OUT/srvgg-element.log" 2>&1 || erc=$?
    fi
    rm -rf "$OUT/models"
    if [ $rc = 0 ]; then step srvgg "measured ($provider): srvgg.md"; else step srvgg "FAILED (exit $rc): see srvgg.log"; status=1; fi
    if [ $rc = 0 ] && [ $erc = 0 ] && [ -f "$OUT/srvgg-element.md" ]; then
      step srvgg-element "measured: srvgg-element.md: $(grep '^| ai' "$OUT/srvgg-element.md" | cut -d'|' -f2-6 | tr '\n' ';')"
    elif [ $rc = 0 ] && [ ! -x "$CARRY/device-chain-bench" ]; then
      step srvgg-element "skipped: no $CARRY/device-chain-bench (scripts/gpu-check.sh prepare)"
    elif [ $rc = 0 ]; then
      step srvgg-element "FAILED (exit $erc): see srvgg-element.log"; status=1
    fi
  fi
  # 6. backend::cuda_io on the staged wheel's ONNX Runtime (its CUDA provider beside it); in a dry
  # run on this machine's ONNX Runtime, where the test skips (no device, no CUDA provider).
  local lib="$ORT_STAGE/py/onnxruntime/capi/libonnxruntime.so.$ORT_GPU_VERSION"
  if [ ! -x "$CARRY/runtime-cuda-io" ]; then
    step io-binding "skipped: no $CARRY/runtime-cuda-io (scripts/gpu-check.sh prepare)"
  elif [ $dry = 0 ] && [ ! -f "$lib" ]; then
    step io-binding "skipped: no staged onnxruntime-gpu ($lib)"
  else
    rc=0
    (
      if [ $dry = 0 ]; then export GST_AI_ORT_LIB="$lib"; fi
      timeout "$(within 60)" "$CARRY/runtime-cuda-io" --test-threads=1 --nocapture
    ) > "$OUT/io-binding.log" 2>&1 || rc=$?
    if [ $rc = 0 ]; then
      step io-binding "passed: $(grep -E 'through I/O binding|skipped' "$OUT/io-binding.log" | tr '\n' ';')"
    else
      step io-binding "FAILED (exit $rc): see io-binding.log"; status=1
    fi
  fi
  # 4. aiupscale and aistylize on CUDA against the CPU (after 5 and 6: the staged onnxruntime-gpu,
  # its CUDA libraries on the loader's path). In a dry run the CPU shim stands in for the GPU and
  # the model runs on this machine's ONNX Runtime: the frames must be equal byte for byte.
  if [ ! -x "$CARRY/device-chain-bench" ] || [ ! -x "$CARRY/runtime-device-chain" ]; then
    step elements "skipped: no $CARRY/device-chain-bench or runtime-device-chain (scripts/gpu-check.sh prepare)"
  elif [ $dry = 0 ] && [ ! -f "$lib" ]; then
    step elements "skipped: no staged onnxruntime-gpu ($lib): the elements' models need its CUDA provider"
  else
    rc=0
    (
      if [ $dry = 0 ]; then export GST_AI_ORT_LIB="$lib"; fi
      # On the GPU only the CUDA tests (the shim's need a C++ compiler; CI runs them).
      filter=(on_a_gpu); [ $dry = 1 ] && filter=()
      timeout "$(within 150)" "$CARRY/runtime-device-chain" --test-threads=1 --nocapture "${filter[@]}"
    ) > "$OUT/elements-tests.log" 2>&1 || rc=$?
    grep -qE '^test result: ok\. [1-9]' "$OUT/elements-tests.log" || [ $rc != 0 ] || rc=99
    local brc=0 bench_args=(--frames 20); [ $dry = 1 ] && bench_args=(--shim)
    (
      if [ $dry = 0 ]; then export GST_AI_ORT_LIB="$lib"; fi
      timeout "$(within 200)" "$CARRY/device-chain-bench" "${bench_args[@]}" --out "$OUT/elements.md"
    ) > "$OUT/elements.log" 2>&1 || brc=$?
    if [ $rc = 0 ] && [ $brc = 0 ]; then
      step elements "passed: $(grep -E '^test result' "$OUT/elements-tests.log" | sed 's/; [0-9]* ignored.*//') ($(grep -c ': skipped' "$OUT/elements-tests.log") skipped); elements.md: $(grep '^| ai' "$OUT/elements.md" | cut -d'|' -f2-3 | tr '\n' ';')"
    else
      step elements "FAILED (tests exit $rc, bench exit $brc): see elements-tests.log, elements.log"; status=1
    fi
  fi
  echo "exit $status" | tee -a "$OUT/summary.txt"
  return $status
}

case "${1:-}" in
prepare) prepare ;;
prepare-ort) shift; prepare_ort "$@" ;;
stage-ort) stage_ort "${2:?stage-ort K}" ;;
run) shift; run "$@" ;;
*)
  echo "usage: $0 prepare | prepare-ort [--stand-in FILE] | stage-ort K | run [--dry-run]" >&2
  exit 2
  ;;
esac
