#!/usr/bin/env bash
# Soak: run each of the five elements live, side by side, for a given time and print their memory
# (RSS), threads and open file descriptors over time, then a verdict per element.
#   scripts/soak.sh [seconds] [sample-every-seconds]      (default 3600 and 60)
#   make soak SOAK_SECONDS=600
# Each element runs in its own gst-launch-1.0 process, on small live frames (so the CPU keeps up
# and the figures are about leaks, not backlog). The first half is warm-up (caches, allocator
# arenas, a backlog while the CPU is shared); an element fails the verdict when its RSS at the end
# is more than 10% (and 20 MB) above its RSS at half time, or when its threads or file descriptors
# grew over the second half; a process that died fails too. Exit status 1 when any failed.
set -uo pipefail
secs="${1:-3600}"
every="${2:-60}"
root="$(cd "$(dirname "$0")/.." && pwd)"
export GST_PLUGIN_PATH="$root/target/release${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export GST_REGISTRY="${GST_REGISTRY:-$root/target/gst-registry.bin}"
photo="$root/.deps/media/photos/astronaut.png"
work="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null; cp "$work"/*.log "${SOAK_LOGS:-/tmp}/" 2>/dev/null; rm -rf "$work"' EXIT

sink="fpsdisplaysink text-overlay=false video-sink=fakesink fps-update-interval=5000"
live="videotestsrc is-live=true pattern=ball ! video/x-raw,format=RGBA,width=128,height=96,framerate=5/1"
declare -A line=(
  [aiupscale]="$live ! aiupscale ! $sink"
  [aistylize]="$live ! aistylize ! $sink"
  [aiinterpolate]="$live ! aiinterpolate ! video/x-raw,framerate=10/1 ! $sink"
  [aisrc]="aisrc is-live=true steps=2 num-frames=4 num-clips=0 ! $sink"
)
if [ -f "$photo" ]; then
  # The real face through the default detector and face mesh; noise as sound with the voice gate
  # off, so the mouth moves all the time.
  line[ailipsync]="filesrc location=$photo ! pngdec ! videoconvert ! videoscale \
    ! video/x-raw,format=RGBA,width=256,height=256 ! imagefreeze is-live=true \
    ! video/x-raw,framerate=5/1 ! ailipsync name=l voice-activity=false ! $sink \
    audiotestsrc is-live=true wave=pink-noise ! audio/x-raw,rate=16000,channels=1 ! l.audio"
else
  line[ailipsync]="$live ! ailipsync name=l face-box=\"<40,20,80,90>\" ! $sink \
    audiotestsrc is-live=true wave=pink-noise ! audio/x-raw,rate=16000,channels=1 ! l.audio"
fi
names=(aiupscale aistylize aiinterpolate ailipsync aisrc)

declare -A pid
for n in "${names[@]}"; do
  eval "exec gst-launch-1.0 -v ${line[$n]}" >"$work/$n.log" 2>&1 &
  pid[$n]=$!
done

sample() { # name -> "rss_mb threads fds" or "dead"
  local p=${pid[$1]}
  if [ ! -d "/proc/$p" ]; then echo dead; return; fi
  local rss thr fds
  rss=$(awk '/^VmRSS/ {printf "%.1f", $2/1024}' "/proc/$p/status")
  thr=$(awk '/^Threads/ {print $2}' "/proc/$p/status")
  fds=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
  echo "$rss $thr $fds"
}

printf '%8s' "t (s)"
for n in "${names[@]}"; do printf ' | %-22s' "$n MB/thr/fd"; done
echo
declare -A first last half
start=$(date +%s)
t=0
while :; do
  sleep "$every"
  t=$(( $(date +%s) - start ))
  printf '%8d' "$t"
  for n in "${names[@]}"; do
    s=$(sample "$n")
    printf ' | %-22s' "$s"
    [ -z "${first[$n]:-}" ] && first[$n]="$s"
    [ -z "${half[$n]:-}" ] && [ "$t" -ge $(( secs / 2 )) ] && half[$n]="$s"
    last[$n]="$s"
  done
  echo
  [ "$t" -ge "$secs" ] && break
done

echo
fail=0
for n in "${names[@]}"; do
  read -r q_rss q_thr q_fd <<<"${half[$n]:-${first[$n]}}"
  read -r e_rss e_thr e_fd <<<"${last[$n]}"
  verdict=ok
  if [ "$e_rss" = dead ] || [ "$q_rss" = dead ]; then
    verdict="FAILED: the process died (log: $(tail -n 3 "$work/$n.log" | tr '\n' ' '))"
  elif awk -v a="$q_rss" -v b="$e_rss" 'BEGIN { exit !(b > a * 1.10 && b - a > 20) }'; then
    verdict="FAILED: RSS grew from $q_rss MB to $e_rss MB"
  elif [ "$e_thr" -gt "$q_thr" ] || [ "$e_fd" -gt "$q_fd" ]; then
    verdict="FAILED: threads $q_thr -> $e_thr, fds $q_fd -> $e_fd"
  fi
  [ "$verdict" = ok ] || fail=1
  frames=$(grep -o 'rendered: [0-9]*, dropped: [0-9]*' "$work/$n.log" | tail -n 1)
  printf '%-14s %s; RSS %s -> %s MB, threads %s -> %s, fds %s -> %s: %s\n' \
    "$n" "${frames:-no frames}" "$q_rss" "$e_rss" "$q_thr" "$e_thr" "$q_fd" "$e_fd" "$verdict"
done
exit $fail
