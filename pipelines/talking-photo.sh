#!/usr/bin/env bash
# Avatar mode: a still photograph of a face made to speak a recording with ailipsync, into an
# H.264/AAC MP4 whose sound is the speech. imagefreeze repeats the photograph at FPS (25) frames
# per second without end; ailipsync's end-with-audio ends the video at the end of the speech. The
# zoo's RetinaFace finds the face and its face mesh the lips (make setup imports them); FACE_BOX
# ("<x, y, width, height>", brows to chin) fixes the face instead, MODEL=wav2lip.onnx uses a
# Wav2Lip-family model instead of the built-in animation.
#   pipelines/talking-photo.sh photo.png speech.wav out.mp4
# The photograph may be any format decodebin reads (PNG, JPEG); the speech any audio file.
# (The unbounded queue lets the audio run ahead while x264enc gathers its look-ahead frames:
# ailipsync needs the audio of every frame it passes on.)
set -euo pipefail
usage="usage: $0 photo.png speech.wav out.mp4"
photo="${1:?$usage}"
audio="${2:?$usage}"
out="${3:?$usage}"
[ -f "$photo" ] || { echo "$0: no such photograph: $photo" >&2; exit 1; }
[ -f "$audio" ] || { echo "$0: no such audio file: $audio" >&2; exit 1; }
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
lip=(end-with-audio=true)
[ -n "${FACE_BOX:-}" ] && lip+=(face-box="$FACE_BOX")
[ -n "${MODEL:-}" ] && lip+=(model="$MODEL")
gst-launch-1.0 -e \
  filesrc location="$photo" ! decodebin ! videoconvert ! imagefreeze \
     ! video/x-raw,framerate="${FPS:-25}"/1 ! ailipsync name=l "${lip[@]}" \
     ! videoconvert ! x264enc speed-preset=medium \
     ! queue ! mp4mux name=m ! filesink location="$out" \
  filesrc location="$audio" ! decodebin ! audioconvert ! audioresample ! tee name=t \
  t. ! queue ! l.audio \
  t. ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 ! audioconvert ! avenc_aac ! m.
