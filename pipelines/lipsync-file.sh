#!/usr/bin/env bash
# Lip-sync a video of a face to a speech recording with ailipsync, into an H.264/AAC MP4 whose
# sound is the speech. (The unbounded queue lets the audio run ahead while x264enc gathers its
# look-ahead frames: ailipsync needs the audio of every frame it passes on.)
#   pipelines/lipsync-file.sh face-video speech-audio out.mp4 "<x, y, width, height>"
# The box frames the face from the brows to the chin. FACE_MODEL=detector.onnx (UltraFace layout)
# finds the face instead (pass "" as the box); MODEL=wav2lip.onnx uses a Wav2Lip-family model
# instead of the built-in animation.
set -euo pipefail
usage="usage: $0 face-video speech-audio out.mp4 '<x, y, width, height>'"
video="${1:?$usage}"
audio="${2:?$usage}"
out="${3:?$usage}"
box="${4-}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
face=(face-box="$box")
[ -z "$box" ] && face=(face-model="${FACE_MODEL:?set FACE_MODEL or give a face box}")
[ -n "${MODEL:-}" ] && face+=(model="$MODEL")
gst-launch-1.0 -e \
  filesrc location="$video" ! decodebin ! videoconvert ! ailipsync name=l "${face[@]}" \
     ! videoconvert ! x264enc speed-preset=medium ! queue ! mp4mux name=m ! filesink location="$out" \
  filesrc location="$audio" ! decodebin ! audioconvert ! audioresample ! tee name=t \
  t. ! queue ! l.audio \
  t. ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! audioconvert ! avenc_aac ! m.
