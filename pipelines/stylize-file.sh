#!/usr/bin/env bash
# Restyle a video file with aistylize into an H.264 MP4, keeping the audio track when there is one.
#   pipelines/stylize-file.sh in.mp4 out.mp4 [style]     (style: cartoon (default), pencil, oil)
# MODEL=model.onnx uses a fast-neural-style or AnimeGANv2 ONNX model instead of a built-in style;
# TC sets temporal-consistency (default 0.5).
set -euo pipefail
in="${1:?usage: $0 input-video output.mp4 [style]}"
out="${2:?usage: $0 input-video output.mp4 [style]}"
style="${3:-cartoon}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
gst-launch-1.0 -e \
  filesrc location="$in" ! decodebin name=d \
  d. ! queue ! videoconvert ! aistylize style="$style" model="${MODEL:-}" temporal-consistency="${TC:-0.5}" \
     ! videoconvert ! x264enc speed-preset=medium ! queue ! mp4mux name=m ! filesink location="$out" \
  d. ! queue ! audioconvert ! avenc_aac ! m.
