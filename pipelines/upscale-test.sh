#!/usr/bin/env bash
# The smallest aiupscale pipeline: a test pattern upscaled x2 and shown on screen (or, with
# SINK=fakesink, just run). Handy to check the plugin is found.
#   pipelines/upscale-test.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
gst-launch-1.0 videotestsrc num-buffers="${FRAMES:-60}" pattern=ball \
  ! video/x-raw,width=320,height=180,framerate=30/1 ! aiupscale ! videoconvert ! "${SINK:-autovideosink}"
