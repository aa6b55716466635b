#!/usr/bin/env bash
# Generate a clip from a prompt with aisrc (built-in model, or MODEL=path/to/diffusers-onnx-folder),
# interpolated to 24 fps and upscaled x2, into an H.264 MP4 whose tags record the prompt and seed.
#   pipelines/text-to-video.sh "a blue square moving up" out.mp4
# SEED=n picks the noise; CLIPS=n makes n clips in a row (seeds n, n+1, ...).
set -euo pipefail
prompt="${1:?usage: $0 \"prompt\" output.mp4}"
out="${2:?usage: $0 \"prompt\" output.mp4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
gst-launch-1.0 -e \
  aisrc prompt="$prompt" model="${MODEL:-}" seed="${SEED:-0}" num-clips="${CLIPS:-1}" \
  ! aiinterpolate ! video/x-raw,framerate=24/1 ! aiupscale ! videoconvert \
  ! x264enc speed-preset=medium ! mp4mux ! filesink location="$out"
