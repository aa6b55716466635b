#!/usr/bin/env bash
# Upscale a video file x2 with aiupscale's built-in model (or MODEL=path/to/model.onnx) into an
# H.264 MP4, keeping the audio track when there is one.
#   pipelines/upscale-file.sh in.mp4 out.mp4
# TILE=256 bounds memory on large frames (0 = whole frame).
set -euo pipefail
in="${1:?usage: $0 input-video output.mp4}"
out="${2:?usage: $0 input-video output.mp4}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
gst-launch-1.0 -e \
  filesrc location="$in" ! decodebin name=d \
  d. ! queue ! videoconvert ! aiupscale model="${MODEL:-}" tile-size="${TILE:-0}" ! videoconvert \
     ! x264enc speed-preset=medium ! queue ! mp4mux name=m ! filesink location="$out" \
  d. ! queue ! audioconvert ! avenc_aac ! m.
