#!/usr/bin/env bash
# NVIDIA Triton Inference Server for the remote-inference tests (tests/tests/remote*.rs) and
# benchmark: the `tritonserver` binary and its Python backend as shipped inside the PyPI wheel
# nvidia-pytriton (pip, no other host), unpacked into .deps/tritonserver/ (the binary finds its
# libraries through its RPATH), with the backend stub of this machine's python3; and the Python
# environment the served models run in (.deps/triton-venv: ONNX Runtime + numpy at the versions
# of tests/remote/requirements.txt). Idempotent: when both are there it returns at once.
# Called by scripts/bootstrap.sh.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTRITON_VERSION=0.7.0
DIR="$ROOT/.deps/tritonserver"
VENV="$ROOT/.deps/triton-venv"
REQ="$ROOT/tests/remote/requirements.txt"
say() { printf '[setup] %s\n' "$*"; }

py="$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
stamp="$PYTRITON_VERSION python$py"
if [ ! -x "$DIR/pytriton/tritonserver/bin/tritonserver" ] || [ "$(cat "$DIR/VERSION" 2>/dev/null)" != "$stamp" ]; then
  say "fetching Triton Inference Server (the nvidia-pytriton $PYTRITON_VERSION wheel, with pip)"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "nvidia-pytriton==$PYTRITON_VERSION"
  rm -rf "$DIR"
  mkdir -p "$DIR"
  python3 - "$tmp" "$DIR" "$py" <<'PY'
import glob, os, shutil, stat, sys, zipfile
tmp, dest, py = sys.argv[1:4]
wheels = glob.glob(os.path.join(tmp, "nvidia_pytriton-*.whl"))
if not wheels:
    sys.exit("no nvidia-pytriton wheel was downloaded")
with zipfile.ZipFile(wheels[0]) as z:
    for n in z.namelist():
        if n.endswith("/") or not (n.startswith("pytriton/tritonserver/") or n.startswith("nvidia_pytriton.libs/")):
            continue
        target = os.path.join(dest, n)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with z.open(n) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
        os.chmod(target, 0o755)
server = os.path.join(dest, "pytriton/tritonserver")
stub = os.path.join(server, "python_backend_stubs", py, "triton_python_backend_stub")
if not os.path.exists(stub):
    sys.exit(f"the wheel has no Python backend stub for Python {py}")
shutil.copy(stub, os.path.join(server, "backends/python/triton_python_backend_stub"))
PY
  rm -rf "$tmp"
  echo "$stamp" > "$DIR/VERSION"
  say "Triton Inference Server installed in $DIR"
else
  say "Triton Inference Server (nvidia-pytriton $PYTRITON_VERSION): present in $DIR"
fi

# The stub embeds Python through the shared libpython of the same version.
stub="$DIR/pytriton/tritonserver/backends/python/triton_python_backend_stub"
libs="$(ldd "$stub" 2>&1 || true)"
if grep -q "libpython.*not found" <<<"$libs"; then
  say "installing libpython$py (the Python backend stub needs it)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "libpython$py" >/dev/null
fi

# shellcheck source=scripts/venv.sh
. "$ROOT/scripts/venv.sh"
ensure_venv "$VENV" "$REQ" "the served models' environment"
