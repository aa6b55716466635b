#!/usr/bin/env bash
# Convert a video file's frame rate by motion-compensated interpolation (aiinterpolate) into an
# H.264 MP4, keeping the audio track when there is one.
#   pipelines/interpolate-file.sh in.mp4 out.mp4 [fps]       (fps defaults to 60)
# MODE=model MODEL=rife.onnx uses a RIFE model instead of the built-in flow.
set -euo pipefail
in="${1:?usage: $0 input-video output.mp4 [fps]}"
out="${2:?usage: $0 input-video output.mp4 [fps]}"
fps="${3:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
gst-launch-1.0 -e \
  filesrc location="$in" ! decodebin name=d \
  d. ! queue ! videoconvert ! aiinterpolate mode="${MODE:-flow}" model="${MODEL:-}" \
     ! "video/x-raw,framerate=$fps/1" ! videoconvert ! x264enc speed-preset=medium ! queue ! mp4mux name=m \
     ! filesink location="$out" \
  d. ! queue ! audioconvert ! avenc_aac ! m.
